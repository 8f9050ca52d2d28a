/// One recipient stanza: "-> type args…" plus a base64 body.
struct Stanza: Equatable {
    var type: String
    var arguments: [String]
    var body: [UInt8]
}

/// The textual age v1 header (https://age-encryption.org/v1):
///
///     header = v1-line 1*stanza end
///     stanza = arg-line *full-line final-line   ; full 64 columns, final 0–63
///     end    = "--- " 43base64char LF
struct Header {
    static let versionLine = "age-encryption.org/v1"
    static let versionPrefix = "age-encryption.org/"
    static let columns = 64
    static let macSize = 32

    var stanzas: [Stanza]
    var mac: [UInt8]
    /// The bytes the MAC covers: everything up to and including "---".
    var authenticated: ArraySlice<UInt8>
    /// Offset of the first payload byte in the parsed file.
    var payloadStart: Int

    /// Serialises up to and including "---", the input to the header MAC.
    static func encodeWithoutMAC(_ stanzas: [Stanza]) -> [UInt8] {
        var text = versionLine + "\n"
        for stanza in stanzas {
            text += (["->", stanza.type] + stanza.arguments).joined(separator: " ") + "\n"
            let body = Array(Base64.encode(stanza.body).utf8)
            // Full lines, then a final line shorter than 64 columns, empty if need be.
            var start = 0
            repeat {
                let end = min(start + columns, body.count)
                text += String(decoding: body[start..<end], as: UTF8.self) + "\n"
                start += columns
            } while start <= body.count
        }
        return Array((text + "---").utf8)
    }

    static func mac(fileKey: [UInt8], over authenticated: some Collection<UInt8>) throws -> [UInt8] {
        let key = try Crypto.hkdf(ikm: fileKey, salt: [], info: Array("header".utf8))
        return try Crypto.hmacSHA256(key: key, message: authenticated)
    }

    static func parse(_ file: [UInt8]) throws -> Header {
        var reader = LineReader(bytes: file)
        let first: ArraySlice<UInt8>
        do { first = try reader.next() } catch {
            let isPrefix = (versionLine + "\n").utf8.starts(with: file)
            throw isPrefix ? AgeError.truncated : AgeError.malformedHeader("not an age file")
        }
        if !first.elementsEqual(versionLine.utf8) {
            if first.starts(with: versionPrefix.utf8) {
                throw AgeError.unsupportedVersion(String(decoding: first.dropFirst(versionPrefix.utf8.count), as: UTF8.self))
            }
            if first.starts(with: "-----BEGIN AGE ENCRYPTED FILE-----".utf8) {
                throw AgeError.malformedHeader("ASCII-armored files are not supported")
            }
            throw AgeError.malformedHeader("missing the \"\(versionLine)\" line")
        }

        var stanzas: [Stanza] = []
        while true {
            let lineStart = reader.offset
            let line = try reader.next()
            if line.starts(with: "---".utf8) {
                guard !stanzas.isEmpty else { throw AgeError.malformedHeader("no recipient stanzas") }
                guard line.starts(with: "--- ".utf8), let mac = Base64.decode(line.dropFirst(4)),
                    mac.count == macSize
                else { throw AgeError.malformedHeader("malformed MAC line") }
                return Header(
                    stanzas: stanzas, mac: mac, authenticated: file[..<(lineStart + 3)],
                    payloadStart: reader.offset)
            }
            guard line.starts(with: "-> ".utf8) else { throw AgeError.malformedHeader("unexpected line") }
            stanzas.append(try parseStanza(arguments: line.dropFirst(3), reader: &reader))
        }
    }

    private static func parseStanza(arguments line: ArraySlice<UInt8>, reader: inout LineReader) throws -> Stanza {
        let arguments = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        for argument in arguments {
            // argument = 1*VCHAR; an empty one means a doubled or trailing space.
            guard !argument.isEmpty, argument.allSatisfy({ $0 >= 0x21 && $0 <= 0x7e }) else {
                throw AgeError.malformedHeader("malformed stanza arguments")
            }
        }
        var encoded: [UInt8] = []
        while true {
            let bodyLine = try reader.next()
            guard bodyLine.count <= columns, bodyLine.allSatisfy(Base64.isAlphabet) else {
                throw AgeError.malformedHeader("malformed stanza body line")
            }
            encoded += bodyLine
            if bodyLine.count < columns { break }
        }
        guard let body = Base64.decode(encoded) else {
            throw AgeError.malformedHeader("non-canonical base64 in stanza body")
        }
        let strings = arguments.map { String(decoding: $0, as: UTF8.self) }
        return Stanza(type: strings[0], arguments: Array(strings.dropFirst()), body: body)
    }
}

/// Splits the header into LF-terminated lines; running out of input mid-line means truncation.
private struct LineReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func next() throws -> ArraySlice<UInt8> {
        guard let end = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) else { throw AgeError.truncated }
        defer { offset = end + 1 }
        return bytes[offset..<end]
    }
}

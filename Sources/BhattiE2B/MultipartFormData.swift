/// `multipart/form-data` (RFC 7578), as envd's `POST /files` takes uploads: each part's field name,
/// file name and bytes, for a body already in memory (`MultipartSplitter` takes one as it arrives).
public struct MultipartPart: Equatable, Sendable {
    public var name: String
    public var filename: String?
    public var data: [UInt8]

    public init(name: String, filename: String?, data: [UInt8]) {
        self.name = name
        self.filename = filename
        self.data = data
    }
}

public enum MultipartError: Error, Equatable, CustomStringConvertible {
    case noBoundary
    case malformed(String)
    /// A part's header block ran past the limit without ending.
    case headersTooLarge(limit: Int)
    case tooManyParts(limit: Int)

    public var description: String {
        switch self {
        case .noBoundary: "multipart/form-data needs a boundary parameter"
        case .malformed(let why): "malformed multipart body: \(why)"
        case .headersTooLarge(let limit): "malformed multipart body: a part's headers are longer than \(limit) bytes"
        case .tooManyParts(let limit): "a multipart body may hold at most \(limit) parts"
        }
    }
}

public enum MultipartFormData {
    /// The boundary of a `multipart/form-data` content type, unquoted; nil for any other type.
    public static func boundary(of contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { trimmed($0) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.utf8.count > 70 ? nil : value
        }
        return nil
    }

    public static func parse(_ body: [UInt8], boundary: String) throws(MultipartError) -> [MultipartPart] {
        var splitter = MultipartSplitter(boundary: boundary)
        var parts: [MultipartPart] = []
        for event in try splitter.feed(body) {
            switch event {
            case .part(let name, let filename): parts.append(MultipartPart(name: name, filename: filename, data: []))
            case .data(let bytes): parts[parts.count - 1].data += bytes
            }
        }
        try splitter.finish()
        return parts
    }

    /// The `name` and `filename` of a part's `Content-Disposition: form-data` header.
    static func disposition(_ headers: String) throws(MultipartError) -> (String, String?) {
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, trimmed(pair[0]).lowercased() == "content-disposition" else { continue }
            var name: String?
            var filename: String?
            for parameter in pair[1].split(separator: ";").dropFirst() {
                let kv = parameter.split(separator: "=", maxSplits: 1).map { trimmed($0) }
                guard kv.count == 2 else { continue }
                var value = kv[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch kv[0].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name else { throw .malformed("a part's Content-Disposition has no name") }
            return (name, filename)
        }
        throw .malformed("a part has no Content-Disposition")
    }

    /// Where `needle` first occurs in `haystack` at or after `start`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        // Over raw buffers: the body of an upload passes through here byte by byte, debug builds included.
        return haystack.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { pin in
                let first = pin[0]
                var i = start
                let last = hay.count - pin.count
                outer: while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < pin.count {
                            if hay[i + j] != pin[j] {
                                i += 1
                                continue outer
                            }
                            j += 1
                        }
                        return i
                    }
                    i += 1
                }
                return nil
            }
        }
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

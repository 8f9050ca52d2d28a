import BhattiSystem

/// Bytes received but not yet parsed, consumed from the front; storage is compacted only once the
/// consumed prefix is large, so parsing stays linear in the bytes received. HTTP heads and bodies and
/// WebSocket frames are all parsed out of one.
struct InputBuffer {
    private var storage: [UInt8] = []
    private var start = 0
    /// How far past `start` the last search for LF looked, so a line arriving byte by byte is scanned once.
    private var scanned = 0

    var count: Int { storage.count - start }
    var isEmpty: Bool { count == 0 }

    mutating func append(contentsOf bytes: some Collection<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    /// The next line without its LF or CRLF, or nil until its LF arrives. Throws `tooLong` when the line
    /// with its terminator would exceed `maxLength` bytes.
    mutating func readLine(maxLength: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        guard let lf = storage[(start + scanned)...].firstIndex(of: 0x0A) else {
            scanned = count
            if count > maxLength { throw tooLong }
            return nil
        }
        if lf + 1 - start > maxLength { throw tooLong }
        var end = lf
        if end > start, storage[end - 1] == 0x0D { end -= 1 }
        // A copy, so compacting the storage below never has to copy it for a live slice.
        let line = Array(storage[start..<end])[...]
        consume(lf + 1 - start)
        return line
    }

    /// The byte `offset` places past the front (`offset < count`), not consumed.
    subscript(offset: Int) -> UInt8 { storage[start + offset] }

    /// A copy of the bytes `range` past the front, not consumed.
    func peek(_ range: Range<Int>) -> [UInt8] { Array(storage[(start + range.lowerBound)..<(start + range.upperBound)]) }

    /// Drops the first `n` bytes (at most `count`).
    mutating func skip(_ n: Int) { consume(min(n, count)) }

    /// Removes and returns the first `n` bytes (at most `count`).
    mutating func take(_ n: Int) -> [UInt8] {
        let n = min(n, count)
        let bytes = Array(storage[start..<(start + n)])
        consume(n)
        return bytes
    }

    /// Removes and returns everything buffered.
    mutating func takeAll() -> [UInt8] { take(count) }

    private mutating func consume(_ n: Int) {
        start += n
        scanned = 0
        if start == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 1 << 20)
            start = 0
        } else if start >= 4096 && start * 2 >= storage.count {
            storage.removeFirst(start)
            start = 0
        }
    }
}

/// Reads a start line and header fields (or chunked-body trailers) line by line, across as many
/// `read` calls as the bytes take to arrive.
struct HeadReader {
    private(set) var startLine: [UInt8]?
    private(set) var headers = HTTPHeaders()
    private let expectsStartLine: Bool
    private let maxCount: Int
    private var budget: Int

    init(expectsStartLine: Bool, maxBytes: Int, maxCount: Int) {
        self.expectsStartLine = expectsStartLine
        self.budget = maxBytes
        self.maxCount = maxCount
    }

    /// Consumes lines from `buffer`; true once the empty line that ends the head has been read.
    mutating func read(from buffer: inout InputBuffer) throws(HTTPParseError) -> Bool {
        while let line = try buffer.readLine(maxLength: budget, tooLong: .headersTooLarge) {
            budget -= line.count + 1
            if expectsStartLine && startLine == nil {
                // RFC 9112 §2.2: ignore empty lines before the start line (left over from a previous body).
                if !line.isEmpty { startLine = Array(line) }
                continue
            }
            if line.isEmpty { return true }
            guard headers.count < maxCount else { throw .tooManyHeaders }
            let (name, value) = try parseHeaderField(line)
            headers.add(name, value)
        }
        return false
    }
}

/// Splits `name: value`, rejecting what RFC 9112 forbids (obs-fold, space before the colon, control bytes).
func parseHeaderField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (String, String) {
    if let first = line.first, first == 0x20 || first == 0x09 { throw .malformed("obsolete header line folding") }
    guard let colon = line.firstIndex(of: 0x3A) else { throw .malformed("header line without a colon") }
    let name = line[line.startIndex..<colon]
    guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw .malformed("invalid header name") }
    var value = line[(colon + 1)...]
    while let c = value.first, c == 0x20 || c == 0x09 { value.removeFirst() }
    while let c = value.last, c == 0x20 || c == 0x09 { value.removeLast() }
    guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
        throw .malformed("control character in header value")
    }
    return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
}

/// RFC 9110 `tchar`: the bytes allowed in methods and header names.
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        true
    default: false
    }
}

extension FileDescriptor {
    /// Reads into the whole of `buffer`, returning the byte count (0 at end of file); keeps the typed
    /// error that the closure-based buffer APIs would erase.
    func read(into buffer: inout [UInt8]) throws(Errno) -> Int {
        var result: Result<Int, Errno> = .success(0)
        buffer.withUnsafeMutableBytes { raw in
            do throws(Errno) {
                result = .success(try read(into: raw))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }
}

/// Decodes a `Transfer-Encoding: chunked` body incrementally (RFC 9112 §7.1); extensions and trailers
/// are read and dropped.
struct ChunkedDecoder {
    private enum State {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(HeadReader)
        case done
    }

    private var state = State.size
    private var total = 0
    private let limit: Int
    private let trailerBytes: Int
    private let trailerCount: Int

    /// A decoder that fails with `bodyTooLarge` past `limit` body bytes.
    init(limit: Int, trailerBytes: Int = 64 * 1024, trailerCount: Int = 100) {
        self.limit = limit
        self.trailerBytes = trailerBytes
        self.trailerCount = trailerCount
    }

    /// Moves decoded body bytes from `buffer` to `body`; true once the last chunk and trailers are read.
    mutating func decode(_ buffer: inout InputBuffer, into body: inout [UInt8]) throws(HTTPParseError) -> Bool {
        while true {
            switch state {
            case .size:
                guard let line = try buffer.readLine(maxLength: 1024, tooLong: .malformed("chunk size line too long"))
                else { return false }
                let size = try Self.chunkSize(line)
                if size > limit - total { throw .bodyTooLarge(limit: limit) }
                total += size
                state =
                    size == 0
                    ? .trailers(HeadReader(expectsStartLine: false, maxBytes: trailerBytes, maxCount: trailerCount))
                    : .data(remaining: size)
            case .data(let remaining):
                guard !buffer.isEmpty else { return false }
                let piece = buffer.take(remaining)
                body.append(contentsOf: piece)
                state = piece.count == remaining ? .dataEnd : .data(remaining: remaining - piece.count)
            case .dataEnd:
                guard let line = try buffer.readLine(maxLength: 2, tooLong: .malformed("chunk data longer than its size"))
                else { return false }
                guard line.isEmpty else { throw .malformed("chunk data longer than its size") }
                state = .size
            case .trailers(var reader):
                let complete = try reader.read(from: &buffer)
                state = complete ? .done : .trailers(reader)
                if !complete { return false }
            case .done:
                return true
            }
        }
    }

    /// The hexadecimal size before any `;extension`.
    private static func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            if byte == 0x3B || byte == 0x20 || byte == 0x09 { break }
            guard let value = hexValue(byte) else { throw .malformed("invalid chunk size") }
            digits += 1
            // 15 hex digits stay below 2^60, so the arithmetic cannot overflow.
            guard digits <= 15 else { throw .malformed("chunk size too large") }
            size = size << 4 | Int(value)
        }
        guard digits > 0 else { throw .malformed("missing chunk size") }
        return size
    }
}

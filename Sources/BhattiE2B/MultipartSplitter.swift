/// `multipart/form-data` split as it arrives: fed the body in chunks cut anywhere, it says where each
/// part begins (its `Content-Disposition` names) and hands over the part's bytes as they come, holding
/// back only what could still be the start of the next boundary. A part of any size so passes through
/// in memory bounded by the chunks fed and `maxHeaderBytes`, which is how envd's uploads reach the disk
/// without the daemon ever holding a whole body. After a throw the splitter stays failed.
public struct MultipartSplitter: Sendable {
    public enum Event: Equatable, Sendable {
        /// A part's headers were read; its data follows (possibly none).
        case part(name: String, filename: String?)
        /// The next bytes of the current part, in order.
        case data([UInt8])
    }

    private enum State {
        /// Before the first boundary: anything here is preamble, dropped.
        case preamble
        /// Just past a boundary: `--` closes the body, CRLF starts a part.
        case boundaryEnd
        case headers
        case data
        /// The closing boundary was read; the epilogue is dropped.
        case done
    }

    /// The most bytes one part's header block may take.
    public let maxHeaderBytes: Int
    /// The most parts a body may hold (each costs the caller a record however small it is).
    public let maxParts: Int
    private let delimiter: [UInt8]
    /// CRLF then the delimiter: what ends a part's data.
    private let dataEnd: [UInt8]
    private var pending: [UInt8] = []
    private var state = State.preamble
    private var parts = 0
    private var failure: MultipartError?

    public init(boundary: String, maxHeaderBytes: Int = 16 << 10, maxParts: Int = 10_000) {
        delimiter = Array(("--" + boundary).utf8)
        dataEnd = Array("\r\n".utf8) + delimiter
        self.maxHeaderBytes = maxHeaderBytes
        self.maxParts = maxParts
    }

    /// Whether the closing boundary has been read.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Takes the next bytes of the body; what they complete, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(MultipartError) -> [Event] {
        if let failure { throw failure }
        if case .done = state { return [] }
        pending.append(contentsOf: bytes)
        var events: [Event] = []
        do {
            while try step(&events) {}
        } catch {
            failure = error
            throw error
        }
        return events
    }

    /// The body ended: throws unless the closing boundary was read, naming where it stopped.
    public mutating func finish() throws(MultipartError) {
        if let failure { throw failure }
        let why: String
        switch state {
        case .done: return
        case .preamble: why = "no opening boundary"
        case .boundaryEnd: why = "a boundary line does not end in CRLF"
        case .headers: why = "a part's headers do not end"
        case .data: why = "a part does not end with the boundary"
        }
        failure = .malformed(why)
        throw .malformed(why)
    }

    /// Moves on as far as `pending` allows; false when it needs more bytes (or the body is done).
    private mutating func step(_ events: inout [Event]) throws(MultipartError) -> Bool {
        switch state {
        case .preamble:
            guard let at = MultipartFormData.find(delimiter, in: pending, from: 0) else {
                pending.removeFirst(max(0, pending.count - (delimiter.count - 1)))
                return false
            }
            pending.removeFirst(at + delimiter.count)
            state = .boundaryEnd
        case .boundaryEnd:
            guard pending.count >= 2 else { return false }
            if pending[0] == 0x2D, pending[1] == 0x2D {
                pending = []
                state = .done
                return false
            }
            guard pending[0] == 0x0D, pending[1] == 0x0A else { throw .malformed("a boundary line does not end in CRLF") }
            parts += 1
            guard parts <= maxParts else { throw .tooManyParts(limit: maxParts) }
            pending.removeFirst(2)
            state = .headers
        case .headers:
            guard let end = MultipartFormData.find(Array("\r\n\r\n".utf8), in: pending, from: 0) else {
                if pending.count > maxHeaderBytes { throw .headersTooLarge(limit: maxHeaderBytes) }
                return false
            }
            guard end <= maxHeaderBytes else { throw .headersTooLarge(limit: maxHeaderBytes) }
            let (name, filename) = try MultipartFormData.disposition(String(decoding: pending[..<end], as: UTF8.self))
            events.append(.part(name: name, filename: filename))
            pending.removeFirst(end + 4)
            state = .data
        case .data:
            if let at = MultipartFormData.find(dataEnd, in: pending, from: 0) {
                if at > 0 { events.append(.data(Array(pending[..<at]))) }
                pending.removeFirst(at + dataEnd.count)
                state = .boundaryEnd
            } else {
                // Everything but a tail that may be the start of CRLF--boundary is surely data.
                let safe = pending.count - (dataEnd.count - 1)
                if safe > 0 {
                    events.append(.data(Array(pending[..<safe])))
                    pending.removeFirst(safe)
                }
                return false
            }
        case .done:
            return false
        }
        return true
    }
}

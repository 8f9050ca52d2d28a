import Glibc

/// Picks the part of a file a truncated read returns: from line `offset` (1-based), at most `limit`
/// lines and at most `maxBytes` bytes, whichever ends first (`maxBytes` may cut a line).
///
/// Fed the file chunk by chunk, it answers each chunk with one contiguous range: once the first wanted
/// line starts, everything up to the first limit is returned without gaps.
struct LineSlicer {
    private let firstLine: Int
    private let lineLimit: Int
    private let byteLimit: Int
    private var line = 1
    private var linesOut = 0
    private var bytesOut = 0

    /// Nil limits mean "no limit"; the caller has checked that none is negative and `offset` ≥ 1.
    init(offset: Int?, limit: Int?, maxBytes: Int?) {
        firstLine = offset ?? 1
        lineLimit = limit ?? Int.max
        byteLimit = maxBytes ?? Int.max
    }

    /// Whether a limit was reached: the rest of the file need not be read.
    var isDone: Bool { linesOut >= lineLimit || bytesOut >= byteLimit }

    /// The range of `chunk` (the file's next bytes) to return.
    mutating func slice(_ chunk: UnsafeRawBufferPointer) -> Range<Int> {
        let n = chunk.count
        var i = 0
        // Skip whole lines before the first wanted one.
        while i < n && line < firstLine {
            guard let newline = LineSlicer.newline(in: chunk, from: i) else { return n..<n }
            line += 1
            i = newline + 1
        }
        let start = i
        while i < n && !isDone {
            let newline = LineSlicer.newline(in: chunk, from: i)
            let lineEnd = newline.map { $0 + 1 } ?? n
            // Subtractions only: byteLimit may be Int.max.
            let take = min(lineEnd - i, byteLimit - bytesOut)
            bytesOut += take
            if newline != nil && i + take == lineEnd {
                line += 1
                linesOut += 1
            }
            i += take
        }
        return start..<i
    }

    /// The index of the next '\n' at or after `from`, by memchr (a byte loop is slow in debug builds).
    private static func newline(in chunk: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = chunk.baseAddress, from < chunk.count else { return nil }
        guard let hit = memchr(base + from, 0x0a, chunk.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }
}

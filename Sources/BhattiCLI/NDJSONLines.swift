/// Splits a streamed NDJSON reply (`bhatti exec`'s output, an image import's progress) into lines, as
/// the chunks come. `head` keeps the stream's first 64 KiB as they came: all of a plain (error) reply.
struct NDJSONLines {
    private var rest: [UInt8] = []
    private(set) var head: [UInt8] = []

    mutating func append(_ chunk: [UInt8]) -> [[UInt8]] {
        head += chunk.prefix(max(0, 65_536 - head.count))
        rest += chunk
        var lines: [[UInt8]] = []
        while let end = rest.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(Array(rest[..<end]))
            rest.removeSubrange(...end)
        }
        return lines
    }
}

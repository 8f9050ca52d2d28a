import CZlib

/// Inflates a gzip stream (RFC 1952) read from `inner`, member after member (pigz and `cat a.gz b.gz`
/// write several). A stream that ends before its trailer, or bytes that are not gzip, throw
/// `.corruptLayer` naming the layer.
final class GzipSource: ByteSource {
    private let inner: any ByteSource
    private let layer: Int
    private var stream = z_stream()
    private let input = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
    private var innerDone = false
    private var finished = false

    init(_ inner: any ByteSource, layer: Int) throws(ImportError) {
        self.inner = inner
        self.layer = layer
        // 15 + 16: a 32 KiB window, gzip wrapper only. (inflateInit2 is a macro Swift cannot call.)
        let rc = inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            input.deallocate()
            throw .corruptLayer(layer: layer, detail: "inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        while true {
            if stream.avail_in == 0 && !innerDone {
                let n = try inner.read(into: input)
                if n == 0 { innerDone = true }
                stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = UInt32(n)
            }
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(buffer.count)
            let rc = inflate(&stream, Z_NO_FLUSH)
            let produced = buffer.count - Int(stream.avail_out)
            switch rc {
            case Z_STREAM_END:
                if try !nextMember() { finished = true }
                if produced > 0 || finished { return produced }
            case Z_OK, Z_BUF_ERROR:
                if produced > 0 { return produced }
                // No progress and no more input: the stream stops before its trailer.
                if innerDone && stream.avail_in == 0 {
                    throw .corruptLayer(layer: layer, detail: "unexpected end of gzip stream")
                }
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                throw .corruptLayer(layer: layer, detail: message)
            }
        }
    }

    /// After a member's trailer: whether another member follows (then inflate restarts on it).
    private func nextMember() throws(ImportError) -> Bool {
        if stream.avail_in == 0 && !innerDone {
            let n = try inner.read(into: input)
            if n == 0 { innerDone = true }
            stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = UInt32(n)
        }
        guard stream.avail_in > 0 else { return false }
        inflateReset(&stream)
        return true
    }
}

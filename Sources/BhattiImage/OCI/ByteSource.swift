import BhattiSystem
import Glibc

/// A forward-only stream of bytes: a blob in the archive file, a decompressor, a hash tap. Layers are
/// read through a chain of these, so a multi-gigabyte image is never held in memory.
protocol ByteSource: AnyObject {
    /// Reads at most `buffer.count` bytes; 0 means end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int
    /// Discards `count` bytes; ending early throws `.truncated(what)`. A file range seeks.
    func skip(_ count: UInt64, what: @autoclosure () -> String) throws(ImportError)
}

extension ByteSource {
    /// Fills `buffer` completely. Returns false at end of stream before the first byte; a stream that
    /// ends part-way throws `.truncated(what)`.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, what: @autoclosure () -> String) throws(ImportError) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 {
                if done == 0 { return false }
                throw .truncated(what())
            }
            done += n
        }
        return true
    }

    func skip(_ count: UInt64, what: @autoclosure () -> String) throws(ImportError) {
        var left = count
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { scratch.deallocate() }
        while left > 0 {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<Int(min(left, UInt64(scratch.count)))]))
            if n == 0 { throw .truncated(what()) }
            left -= UInt64(n)
        }
    }

    /// Reads to the end, discarding (so a hash tap below sees every byte). More than `limit` bytes
    /// throws `.tooLarge` (trailing zeros after a layer's end-of-archive are a bomb too).
    @discardableResult
    func drain(limit: UInt64 = .max) throws(ImportError) -> UInt64 {
        var total: UInt64 = 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { scratch.deallocate() }
        while true {
            let n = try read(into: scratch)
            if n == 0 { return total }
            total += UInt64(n)
            if total > limit { throw .tooLarge(limit: limit) }
        }
    }

    /// Reads exactly `count` bytes into a new array (nil at end of stream before the first byte).
    func readBytes(_ count: Int, what: @autoclosure () -> String) throws(ImportError) -> [UInt8]? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { buffer.deallocate() }
        guard try readExactly(into: buffer, what: what()) else { return nil }
        return Array(buffer)
    }

    /// Reads everything into memory, refusing more than `limit` bytes (JSON documents only).
    func readAll(limit: Int, what: String) throws(ImportError) -> [UInt8] {
        var out: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { chunk.deallocate() }
        while true {
            let n = try read(into: chunk)
            if n == 0 { return out }
            out += chunk[..<n]
            if out.count > limit { throw .malformedJSON(file: what, detail: "larger than \(limit) bytes") }
        }
    }
}

/// Bytes in memory (tests, and JSON documents already read).
final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        let n = min(buffer.count, bytes.count - offset)
        if n > 0 {
            bytes.withUnsafeBytes { src in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + n])) }
        }
        offset += n
        return n
    }
}

/// A byte range of a file read with pread, so any number of ranges (the blobs inside an outer tar)
/// can be read from one open descriptor without extracting them.
final class FileRangeSource: ByteSource {
    private let file: FileDescriptor
    private let path: String
    private var offset: UInt64
    private let end: UInt64

    init(file: FileDescriptor, path: String, offset: UInt64, length: UInt64) {
        self.file = file
        self.path = path
        self.offset = offset
        self.end = offset + length
    }

    func skip(_ count: UInt64, what: @autoclosure () -> String) throws(ImportError) {
        guard count <= end - offset else { throw .truncated(what()) }
        offset += count
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        let want = Int(min(UInt64(buffer.count), end - offset))
        if want == 0 { return 0 }
        let n: Int
        do {
            n = try file.withRawValue { (fd) throws(Errno) in
                try valueOrErrno { Glibc.pread(fd, buffer.baseAddress, want, off_t(offset)) }
            }
        } catch { throw .io("cannot read \(path)", underlying: error) }
        // The file shrank under us: what was indexed is no longer there.
        if n == 0 { throw .truncated(path) }
        offset += UInt64(n)
        return n
    }
}

/// Passes bytes through while hashing and counting them, and reports progress every `step` bytes.
final class DigestingSource: ByteSource {
    private let inner: any ByteSource
    private let hasher = SHA256()
    private(set) var count: UInt64 = 0
    private let onRead: ((Int) -> Void)?

    init(_ inner: any ByteSource, onRead: ((Int) -> Void)? = nil) {
        self.inner = inner
        self.onRead = onRead
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 {
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            count += UInt64(n)
            onRead?(n)
        }
        return n
    }

    /// `sha256:<hex>` of everything read so far (call once, at the end).
    func digest() -> String { "sha256:" + hexString(hasher.finish()) }
}

import BhattiCore
import BhattiSystem
import Foundation
import Glibc
import Synchronization

/// Where envd uploads whose sizes are not known up front (multipart parts, chunked bodies) wait on
/// the host before they go to the guest, which needs each file's size first: `<data-dir>/tmp`, 0700.
/// Every spool file is removed by the request that made it, however the request ends; the directory
/// is emptied at start of what a daemon that died mid-upload left.
struct UploadSpool: Sendable {
    let directory: String

    /// Makes the directory (0700, owner only) and empties it.
    static func open(dataDirectory: String) throws -> UploadSpool {
        let directory = dataDirectory + "/tmp"
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw BhattiError(.internal, "cannot create the upload spool \(directory)", cause: Errno.current)
        }
        // An existing directory keeps the mode it had: it must be ours alone.
        chmod(directory, 0o700)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            unlink(directory + "/" + name)
        }
        return UploadSpool(directory: directory)
    }

    /// A new, empty spool file; the caller removes it (`SpoolFile.remove()`) on every way out.
    func file() throws -> SpoolFile {
        let path = directory + "/upload-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BhattiError(.internal, "cannot create \(path)", cause: Errno.current) }
        return SpoolFile(path: path, fd: FileDescriptor(rawValue: fd))
    }
}

/// One upload's body on the host disk: appended as it arrives, then read back range by range (a
/// range per file).
final class SpoolFile: Sendable {
    let path: String
    private let fd: FileDescriptor
    private let written = Mutex(0)

    fileprivate init(path: String, fd: FileDescriptor) {
        self.path = path
        self.fd = fd
    }

    /// Bytes written so far: where the next append lands.
    var count: Int { written.withLock { $0 } }

    /// Appends `bytes` on a thread of its own: a write to a disk the kernel is throttling may block.
    func append(_ bytes: [UInt8]) async throws {
        try await Blocking.run(name: "bhatti-spool") { try self.appendNow(bytes) }
    }

    private func appendNow(_ bytes: [UInt8]) throws {
        do { try fd.writeAllFile(bytes) } catch {
            throw BhattiError(.insufficientStorage, "cannot spool the upload to \(path)", cause: error)
        }
        written.withLock { $0 += bytes.count }
    }

    /// Pulls `range` out in pieces of at most 1 MiB, each read on a thread of its own; nil after its
    /// last byte.
    func reader(_ range: Range<Int>) -> @Sendable () async throws -> [UInt8]? {
        let read = blockingReader(range)
        return { try await Blocking.run(name: "bhatti-spool", read) }
    }

    private func blockingReader(_ range: Range<Int>) -> @Sendable () throws -> [UInt8]? {
        let cursor = SpoolCursor(range.lowerBound)
        let fd = fd
        let path = path
        return {
            try cursor.next(upTo: range.upperBound) { offset, want in
                var piece = [UInt8](repeating: 0, count: want)
                let n: Int
                do {
                    n = try fd.withRawValue { (raw) throws(Errno) in
                        try valueOrErrno { piece.withUnsafeMutableBytes { Glibc.pread(raw, $0.baseAddress, want, off_t(offset)) } }
                    }
                } catch {
                    throw BhattiError(.internal, "cannot read the spooled upload \(path)", cause: error)
                }
                guard n > 0 else { throw BhattiError(.internal, "the spooled upload \(path) ended early") }
                piece.removeLast(want - n)
                return piece
            }
        }
    }

    /// Closes and deletes the file. Idempotent.
    func remove() {
        fd.close()
        unlink(path)
    }
}

/// Where a range's reader is.
private final class SpoolCursor: Sendable {
    private let offset: Mutex<Int>

    init(_ start: Int) { offset = Mutex(start) }

    /// The next piece before `end` (read by `read(offset, count)`), or nil at `end`.
    func next(upTo end: Int, _ read: (Int, Int) throws -> [UInt8]) throws -> [UInt8]? {
        try offset.withLock { offset in
            guard offset < end else { return nil }
            let piece = try read(offset, min(1 << 20, end - offset))
            offset += piece.count
            return piece
        }
    }
}

import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// One file read: `result` FileReadInfo, then `data` within the host's credit, then `end`.
///
/// Everything runs on one thread of its own with one descriptor: the size reported is the size of the
/// file that was opened (fstat, not stat by name), and no more than that is sent even if it grows.
final class FileReadStream: GuestStream {
    let window: SendWindow
    private let context: StreamContext
    private let path: String
    private let request: FileReadRequest
    private let stopped = Atomic<Bool>(false)
    private static let chunkSize = 64 * 1024

    private enum Outcome {
        case complete
        case stopped
        case failed(Errno)
    }

    init(path: String, request: FileReadRequest, context: StreamContext) {
        self.path = path
        self.request = request
        self.context = context
        window = context.window
    }

    func start() {
        startThread(name: "lohar-file-read") { [self] in run() }
    }

    func receive(_ frame: Frame) {
        switch frame.type {
        case .kill, .error: stop()
        default: break
        }
    }

    func connectionClosed() { stop() }

    /// The host gave up: wake the sender if it waits for credit; it stops without another frame.
    private func stop() {
        stopped.store(true, ordering: .releasing)
        window.close()
    }

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func run() {
        // O_NONBLOCK: opening a FIFO must not hang waiting for a writer (it is refused below anyway).
        let raw = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard raw >= 0 else { return context.fail(GuestFile.error(Errno.current, path)) }
        let fd = FileDescriptor(rawValue: raw)
        defer { fd.close() }
        var st = stat()
        guard fstat(raw, &st) == 0 else { return context.fail(GuestFile.error(Errno.current, path)) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return context.fail(.badRequest, "\(path) is a directory")
        default: return context.fail(.badRequest, "\(path) is not a regular file")
        }
        let size = Int(st.st_size)
        context.sendJSON(.result, FileReadInfo(size: size, mode: GuestFile.octalMode(st.st_mode)))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileReadStream.chunkSize, alignment: 1)
        defer { buffer.deallocate() }
        let truncated = request.offset != nil || request.limit != nil || request.maxBytes != nil
        let outcome = truncated ? sendSlices(fd, size: size, buffer) : sendWhole(fd, size: size, buffer)
        switch outcome {
        case .complete:
            context.send(.end)
            context.finished()
        case .stopped:
            context.finished()
        case .failed(let e):
            context.fail(.internal, "\(path): read failed: \(e)")
        }
    }

    /// The raw bytes: credit first, then read that much, so an unread file costs no memory.
    private func sendWhole(_ fd: FileDescriptor, size: Int, _ buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        var remaining = size
        while remaining > 0 {
            if isStopped { return .stopped }
            let allowed = window.take(upTo: min(FileReadStream.chunkSize, remaining))
            if allowed == 0 { return .stopped }
            let n: Int
            do { n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<allowed])) } catch { return .failed(error) }
            if n < allowed { window.grant(allowed - n) }
            if n == 0 { break }  // the file shrank since it was opened: send what there is
            if !context.writer.send(Frame(stream: context.id, type: .data, payload: Array(buffer[0..<n]))) { return .stopped }
            remaining -= n
        }
        return .complete
    }

    /// From line `offset`, at most `limit` lines and `max_bytes` bytes; stops reading at the first limit.
    private func sendSlices(_ fd: FileDescriptor, size: Int, _ buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        var slicer = LineSlicer(offset: request.offset, limit: request.limit, maxBytes: request.maxBytes)
        var remaining = size
        while remaining > 0 && !slicer.isDone {
            if isStopped { return .stopped }
            let n: Int
            do {
                n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(FileReadStream.chunkSize, remaining)]))
            } catch {
                return .failed(error)
            }
            if n == 0 { break }
            remaining -= n
            let range = slicer.slice(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            if !range.isEmpty && !context.sendMetered(.data, Array(buffer[range])) { return .stopped }
        }
        return .complete
    }
}

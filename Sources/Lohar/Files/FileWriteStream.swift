import BhattiSystem
import BhattiWire
import Glibc

/// One atomic file write: the host's `data` frames go to a temp file next to the target, and only a
/// complete transfer (exactly `size` bytes, then `end`) is fsynced and renamed into place.
///
/// The connection's reader only queues frames; a thread of its own does the disk work and grants the
/// host credit as bytes reach the file, so a slow disk holds back this transfer and nothing else.
final class FileWriteStream: GuestStream {
    let window: SendWindow
    private let context: StreamContext
    private let path: String
    private let mode: mode_t
    private let size: Int
    private let owner: AtomicFile.Owner?
    private let inbox = Inbox<Item>()

    private enum Item {
        case data([UInt8])
        case end
    }

    init(path: String, mode: mode_t, size: Int, owner: AtomicFile.Owner?, context: StreamContext) {
        self.path = path
        self.mode = mode
        self.size = size
        self.owner = owner
        self.context = context
        window = context.window
    }

    func start() {
        startThread(name: "lohar-file-write") { [self] in run() }
    }

    func receive(_ frame: Frame) {
        switch frame.type {
        case .data: if !frame.payload.isEmpty { inbox.push(.data(frame.payload)) }
        case .end: inbox.push(.end)
        case .kill, .error: inbox.cancel()
        default: break
        }
    }

    /// Nobody is left to complete the transfer: the temp file is dropped, the target never touched.
    func connectionClosed() { inbox.cancel() }

    private func run() {
        let writer: AtomicFile.Writer
        do { writer = try GuestFile.writer(path: path, mode: mode, owner: owner) } catch {
            inbox.cancel()
            return context.fail(error)
        }
        while true {
            guard let item = inbox.pop() else {
                // Cancelled by a kill or a lost host: it asked for nothing more, so nothing is sent.
                writer.abandon()
                return context.finished()
            }
            switch item {
            case .data(let bytes):
                guard writer.written + bytes.count <= size else {
                    return refuse(writer, "\(path): more data than the announced \(size) bytes")
                }
                do { try writer.append(bytes) } catch {
                    inbox.cancel()
                    return context.fail(GuestFile.writeError(error))
                }
                // On disk now: the host may send that much more.
                context.received.consumed(bytes.count)
            case .end:
                guard writer.written == size else {
                    return refuse(writer, "\(path): got \(writer.written) of the announced \(size) bytes")
                }
                inbox.cancel()
                do {
                    let st = try writer.commit()
                    context.sendJSON(.result, GuestFile.info(name: GuestFile.baseName(path), st))
                    context.finished()
                } catch {
                    context.fail(GuestFile.writeError(error))
                }
                return
            }
        }
    }

    private func refuse(_ writer: AtomicFile.Writer, _ message: String) {
        writer.abandon()
        inbox.cancel()
        context.fail(.badRequest, message)
    }
}

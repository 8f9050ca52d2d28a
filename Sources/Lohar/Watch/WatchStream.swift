import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// One directory watch: `result` once watching, then `data` frames (JSON arrays of `WatchEvent`)
/// within the host's credit, until the directory is gone (`end`), the watch fails (`error`), or the
/// host lets go (`kill`, an `error`, a lost connection: no further frame).
///
/// One thread waits on the inotify descriptor and a stop eventfd, reads, translates and sends. While
/// the host gives no credit it stops reading, so events wait in the kernel's queue; one that overflows
/// ends the watch with `resource_exhausted` rather than let the host believe it saw every change. The
/// thread closes the inotify descriptor on its way out, which removes every watch.
final class WatchStream: GuestStream {
    let window: SendWindow
    private let context: StreamContext
    private let path: String
    private let recursive: Bool
    private let stop: FileDescriptor
    private let stopped = Atomic<Bool>(false)
    private static let bufferSize = 64 * 1024

    init(path: String, recursive: Bool, context: StreamContext) throws(Errno) {
        stop = try EventCounter.make()
        self.path = path
        self.recursive = recursive
        self.context = context
        window = context.window
    }

    func start() {
        startThread(name: "lohar-watch") { [self] in run() }
    }

    func receive(_ frame: Frame) {
        switch frame.type {
        case .kill, .error: halt()
        default: break
        }
    }

    func connectionClosed() { halt() }

    /// The host let go: wake the thread, whether it waits for events or for credit.
    private func halt() {
        stopped.store(true, ordering: .releasing)
        EventCounter.signal(stop)
        window.close()
    }

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func run() {
        defer { stop.close() }
        let tree: WatchTree
        do { tree = try WatchTree(path: path, recursive: recursive) } catch { return context.fail(error.code, error.message) }
        defer { tree.close() }
        if isStopped { return context.finished() }
        context.sendJSON(.result, Empty())
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: WatchStream.bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        while !isStopped {
            var fds = [
                pollfd(fd: tree.fd.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stop.rawValue, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) >= 0 else {
                if errno == EINTR { continue }
                return context.fail(.internal, "watching \(path): poll: \(Errno.current)")
            }
            if fds[1].revents != 0 { break }
            guard fds[0].revents != 0 else { continue }
            let outcome: (events: [WatchEvent], ended: Bool)
            do {
                outcome = try tree.translate(try Inotify.read(tree.fd, into: buffer))
            } catch let error as WireErrorMessage {
                return context.fail(error.code, error.message)
            } catch {
                return context.fail(.internal, "watching \(path): read: \(error)")
            }
            for payload in WatchEvent.payloads(outcome.events) where !send(payload) { return context.finished() }
            if outcome.ended {
                context.send(.end)
                return context.finished()
            }
        }
        context.finished()
    }

    /// Sends one payload whole once the host's credit covers it; false once the host let go.
    private func send(_ payload: [UInt8]) -> Bool {
        var needed = payload.count
        while needed > 0 {
            let granted = window.take(upTo: needed)
            if granted == 0 { return false }
            needed -= granted
        }
        return context.writer.send(Frame(stream: context.id, type: .data, payload: payload))
    }
}

extension AgentSession {
    /// A watch stream; the request is checked here, the watch is set up on the stream's thread.
    func openWatch(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        do {
            let request = try decodeRequest(WatchRequest.self, frame)
            let path = GuestFile.trimmingSlashes(try guestPath(request.path))
            do { return try WatchStream(path: path, recursive: request.recursive, context: context) } catch {
                throw WireErrorMessage(code: .internal, message: "eventfd: \(error)")
            }
        } catch {
            context.fail(error)
            return nil
        }
    }
}

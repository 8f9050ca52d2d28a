public import BhattiJSON
public import BhattiSystem
import BhattiWire
import Foundation
import Synchronization

/// Failures talking to QEMU's control socket.
public enum QMPError: Error, Sendable, CustomStringConvertible {
    case connect(path: String, Errno)
    case disconnected
    case protocolError(String)
    /// QEMU answered with an error object.
    case command(name: String, errorClass: String, description: String)

    public var description: String {
        switch self {
        case .connect(let path, let e): "cannot connect to QMP socket \(path): \(e)"
        case .disconnected: "QMP connection closed (QEMU exited?)"
        case .protocolError(let why): "QMP protocol error: \(why)"
        case .command(let name, let cls, let desc): "QMP \(name) failed: \(cls): \(desc)"
        }
    }
}

/// A QMP client: greeting, `qmp_capabilities`, then commands matched to replies by id.
///
/// One reader thread per connection parses newline-delimited JSON; replies resume the waiting
/// caller, events go to `onEvent`. When the socket closes every pending command fails with
/// `.disconnected`, so nothing waits for a QEMU that is gone.
public final class QMPClient: Sendable {
    private struct State {
        var nextID = 1
        var pending: [Int: CheckedContinuation<FastJSON.Value, any Error>] = [:]
        var closed = false
    }
    private let fd: FileDescriptor
    private let state = Mutex(State())
    private let writeLock = Mutex(())
    private let onEvent: @Sendable (String, FastJSON.Value) -> Void

    private init(fd: FileDescriptor, onEvent: @escaping @Sendable (String, FastJSON.Value) -> Void) {
        self.fd = fd
        self.onEvent = onEvent
    }

    /// Connects, reads the greeting, negotiates capabilities.
    public static func connect(
        path: String, onEvent: @escaping @Sendable (String, FastJSON.Value) -> Void = { _, _ in }
    ) async throws -> QMPClient {
        let fd: FileDescriptor
        do { fd = try Socket.connect(unixPath: path) } catch { throw QMPError.connect(path: path, error) }
        let client = QMPClient(fd: fd, onEvent: onEvent)
        let greeting = LineReader(fd: fd)
        // The greeting arrives at once; read it on a dedicated thread before starting the loop.
        let first = try await Blocking.run { try greeting.nextLine() }
        guard let first, let value = try? FastJSON.parse(first), value["QMP"] != nil else {
            fd.close()
            throw QMPError.protocolError("no QMP greeting")
        }
        startThread(name: "qmp-reader") { client.readLoop(greeting) }
        _ = try await client.execute("qmp_capabilities")
        return client
    }

    /// Runs `command` and returns its `return` value; `passing` rides along as SCM_RIGHTS (`getfd`).
    @discardableResult
    public func execute(_ command: String, _ arguments: [String: FastJSON.Value] = [:], passing: FileDescriptor? = nil) async throws
        -> FastJSON.Value
    {
        try await withCheckedThrowingContinuation { continuation in
            let id: Int? = state.withLock { s in
                if s.closed { return nil }
                let id = s.nextID
                s.nextID += 1
                s.pending[id] = continuation
                return id
            }
            guard let id else { return continuation.resume(throwing: QMPError.disconnected) }
            var message: [String: FastJSON.Value] = ["execute": .string(command), "id": .int(Int64(id))]
            if !arguments.isEmpty { message["arguments"] = .object(arguments) }
            var bytes = FastJSON.Value.object(message).encoded()
            bytes.append(UInt8(ascii: "\n"))
            let sent = writeLock.withLock { _ in
                if let passing { (try? fd.writeAll(bytes, passing: passing)) != nil } else { (try? fd.writeAll(bytes)) != nil }
            }
            if !sent { fail(id: id, with: QMPError.disconnected) }
        }
    }

    /// Closes the socket; pending commands fail.
    public func close() { fd.close() }

    private func fail(id: Int, with error: any Error) {
        state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: error)
    }

    private func readLoop(_ reader: LineReader) {
        while let line = try? reader.nextLine() {
            guard let value = try? FastJSON.parse(line) else { continue }
            if let event = value["event"]?.stringValue {
                onEvent(event, value["data"] ?? .null)
                continue
            }
            guard case .int(let n)? = value["id"] else { continue }
            let continuation = state.withLock { $0.pending.removeValue(forKey: Int(n)) }
            if let error = value["error"] {
                continuation?.resume(
                    throwing: QMPError.command(
                        name: "#\(Int(n))", errorClass: error["class"]?.stringValue ?? "?", description: error["desc"]?.stringValue ?? ""))
            } else {
                continuation?.resume(returning: value["return"] ?? .null)
            }
        }
        let pending = state.withLock { s in
            s.closed = true
            defer { s.pending.removeAll() }
            return Array(s.pending.values)
        }
        for c in pending { c.resume(throwing: QMPError.disconnected) }
        onEvent("DISCONNECTED", .null)
        fd.close()
    }
}

/// Newline-delimited reads from a blocking descriptor.
final class LineReader: @unchecked Sendable {
    // SAFETY: used by one thread at a time (the greeting read completes before the reader loop starts).
    private let fd: FileDescriptor
    private var buffer: [UInt8] = []

    init(fd: FileDescriptor) { self.fd = fd }

    /// The next line without its newline; nil at end of file.
    func nextLine() throws -> [UInt8]? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                return line
            }
            let chunk = try fd.read(upTo: 64 * 1024)
            if chunk.isEmpty { return nil }
            buffer.append(contentsOf: chunk)
        }
    }
}

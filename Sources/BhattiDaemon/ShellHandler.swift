import BhattiAPI
import BhattiCore
import BhattiEngine
import BhattiHTTP
import BhattiStore
import BhattiSystem
import Foundation

/// `GET /v1/sandboxes/{id}/shell` and `/exec/ws`: a guest session bridged to a WebSocket.
///
/// Binary messages carry the session's bytes both ways; text messages carry JSON control
/// (`{"type":"session","session_id":…}` first from the server, `{"type":"resize","rows":R,"cols":C}`
/// and `{"type":"eof"}` from the client, `{"type":"exit","exit_code":N}` or `{"type":"error",…}` last).
/// Closing the socket detaches: the session keeps running and can be reattached with `?session=ID`.
///
/// Input is held back, not queued: a binary message goes to the guest within the session's credit,
/// and while it waits the socket is not read past `WebSocketOptions.maxQueuedBytes` (1 MiB), so a
/// client that types faster than the program reads blocks in its own send. When the connection ends,
/// input the guest has not taken yet is dropped with everything holding it.
enum ShellHandler {
    static func handle(_ request: HTTPRequest, id: SandboxRef, service: SandboxService, tty: Bool) async throws -> HTTPResponse {
        guard request.isWebSocketUpgrade else {
            throw BhattiError(.invalidArgument, "\(request.path) needs a WebSocket upgrade (GET with Upgrade: websocket)")
        }
        // 404 and 409 before upgrading, so a client sees a plain error.
        let (record, guest) = try await service.guest(id)
        let sessionID = request.queryValue("session")
        let forceNew = request.queryValue("new") == "true"
        let sandbox = record.name.rawValue
        return HTTPResponse.webSocket { socket in
            var open = GuestSessionRequest(
                argv: [], tty: tty, rows: 24, cols: 80, env: [:], sessionID: sessionID, reuseDetached: tty && !forceNew && sessionID == nil)
            if !tty, sessionID == nil {
                // A piped session starts with its command as the first text message.
                guard let command = await firstCommand(socket) else { return }
                open.argv = command.cmd
                open.env = command.env ?? [:]
            }
            // An attached client keeps the sandbox hot.
            await service.hold(record.id)
            await bridge(socket, guest: guest, request: open, sandbox: sandbox)
            await service.release(record.id)
        }
    }

    /// Runs the attachment until either side ends; a client that leaves detaches the session.
    static func bridge(_ socket: WebSocket, guest: any SandboxGuest, request: GuestSessionRequest, sandbox: String) async {
        let attachment: any GuestSession
        do { attachment = try await guest.openSession(request) } catch let error as GuestError {
            fail(socket, GuestErrors.map(error, sandbox: sandbox).message)
            return
        } catch {
            fail(socket, "internal error")
            return
        }
        send(socket, ["type": "session", "session_id": attachment.sessionID])
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                // Guest → client. True when the session ended (exit) rather than the client.
                do {
                    for try await event in attachment.output {
                        switch event {
                        // A client that does not read blocks this write (and, through the credit taken
                        // only after it, the program): on its own thread, never the cooperative pool's.
                        case .output(let bytes): try await Blocking.run(name: "bhatti-ws-out") { try socket.send(binary: bytes) }
                        case .exit(let code):
                            _ = try? await Blocking.run(name: "bhatti-ws-out") { send(socket, ["type": "exit", "exit_code": Int(code)]) }
                            return true
                        case .detached(let reason):
                            _ = try? await Blocking.run(name: "bhatti-ws-out") {
                                send(socket, ["type": "detached", "reason": reason ?? "detached"])
                            }
                            return true
                        }
                    }
                } catch {}
                return true
            }
            group.addTask {
                // Client → guest. Returns when the client closes, after what it sent (an eof included)
                // went in, as far as the guest takes it: once the connection is over, a write stops
                // waiting for credit a program that does not read will never give.
                await withTaskGroup(of: Void.self) { input in
                    input.addTask {
                        await socket.waitUntilEnded()
                        attachment.stopWaitingForInputCredit()
                    }
                    do {
                        for try await message in socket.messages {
                            switch message {
                            case .binary(let bytes): try await attachment.write(bytes)
                            case .text(let text): try await control(text, attachment)
                            }
                        }
                    } catch {}
                    // The watcher returns when cancelled.
                    input.cancelAll()
                }
                return false
            }
            let sessionEnded = await group.next() ?? false
            // Close first: cancelling the task that reads `messages` would end the socket with 1001.
            if sessionEnded { socket.close(code: WebSocketCloseCode.normal, reason: "") }
            group.cancelAll()
            if !sessionEnded { try? attachment.detach() }
        }
        attachment.close()
        socket.close(code: WebSocketCloseCode.normal, reason: "")
    }

    /// A text message from the client: JSON control, or (when it is not) input text.
    static func control(_ text: String, _ attachment: any GuestSession) async throws {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            let type = object["type"] as? String
        else {
            try await attachment.write(Array(text.utf8))
            return
        }
        switch type {
        case "resize":
            if let rows = object["rows"] as? Int, let cols = object["cols"] as? Int, (1...1000).contains(rows), (1...1000).contains(cols) {
                try attachment.resize(rows: UInt16(rows), cols: UInt16(cols))
            }
        case "eof": try await attachment.write([])
        case "stdin": if let data = object["data"] as? String { try await attachment.write(Array(data.utf8)) }
        default: break
        }
    }

    struct Command: Decodable {
        var cmd: [String]
        var env: [String: String]?
    }

    /// Waits (10 s at most) for `{"cmd":[…],"env":{}}`.
    static func firstCommand(_ socket: WebSocket) async -> Command? {
        let first = await withTaskGroup(of: WebSocketMessage?.self) { group in
            group.addTask {
                var iterator = socket.messages.makeAsyncIterator()
                return try? await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return nil
            }
            let result = await group.next() ?? nil
            group.cancelAll()
            return result
        }
        guard case .text(let text)? = first, let command = try? JSONDecoder().decode(Command.self, from: Data(text.utf8)),
            !command.cmd.isEmpty
        else {
            fail(socket, "send {\"cmd\":[…]} as the first message, or attach with ?session=ID")
            return nil
        }
        // The checks a request body gets (the upgrade has happened: they end the socket instead of a 400).
        do {
            try refuseDuplicateKeys(Array(text.utf8))
            try CommandInput.validate(argv: command.cmd, env: command.env ?? [:])
        } catch {
            fail(socket, error.message)
            return nil
        }
        return command
    }

    static func send(_ socket: WebSocket, _ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        try? socket.send(text: String(decoding: data, as: UTF8.self))
    }

    static func fail(_ socket: WebSocket, _ message: String) {
        send(socket, ["type": "error", "message": message])
        socket.close(code: WebSocketCloseCode.normal, reason: "")
    }
}

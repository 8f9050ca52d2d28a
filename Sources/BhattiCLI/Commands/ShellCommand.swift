import BhattiAPI
import BhattiHTTP
import BhattiSystem
import Foundation
import Glibc
import Synchronization

/// `bhatti shell SB [--new]`: an interactive terminal over the shell WebSocket.
///
/// The local terminal goes raw; keystrokes go out as binary messages, the window size follows
/// SIGWINCH, and `Ctrl+\` detaches (the session keeps running; the same command reattaches and the
/// scrollback is replayed).
enum ShellCommand {
    static let detachKey: UInt8 = 0x1c

    static let command = BhattiCommand.Command(
        names: ["shell", "sh"], usage: "bhatti shell SB [--new]",
        summary: "Interactive shell in the sandbox. Ctrl+\\ detaches; running it again reattaches and replays the scrollback.",
        options: [OptionSpec("--new", kind: .flag, help: "start a new session instead of reattaching")]
    ) { args, ctx in
        guard args.positionals.count == 1 else { throw UsageError("shell takes one sandbox name or id") }
        // Without a terminal there is no one to type; a script wants `exec` (which reports the exit code).
        guard isatty(0) == 1 else {
            throw UsageError("shell needs a terminal; from a script use `bhatti exec \(args.positionals[0]) CMD…` (-i sends stdin)")
        }
        let sandbox = args.positionals[0]
        let path = APIRoute.shell(sandbox).target(query: args.has("--new") ? [("new", "true")] : [])
        let client = try ctx.client()
        var headers = ctx.headers
        headers.remove("Content-Type")
        let socket: WebSocket
        do { socket = try client.webSocket(path: path, headers: headers) } catch let error as WebSocketError {
            switch error {
            case .rejected(let status, _, let body): throw ctx.serverError(status: status, body: body)
            case .http(let e): throw ctx.transportError(e)
            default: throw CLIError.failure("cannot open a shell at \(ctx.url): \(error)")
            }
        }
        let terminal = RawTerminal()
        defer { terminal.restore() }
        sendSize(socket)
        let detached = Atomic<Bool>(false)
        startThread(name: "shell-stdin") {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                let n = read(0, buffer.baseAddress, buffer.count)
                if n <= 0 { break }
                let bytes = Array(buffer[0..<n])
                if let i = bytes.firstIndex(of: detachKey) {
                    if i > 0 { try? socket.send(binary: Array(bytes[..<i])) }
                    detached.store(true, ordering: .releasing)
                    break
                }
                if (try? socket.send(binary: bytes)) == nil { break }
            }
            socket.close(code: WebSocketCloseCode.normal, reason: "")
        }
        if let winch = try? Signals.pipe(for: SIGWINCH) {
            startThread(name: "shell-winch") {
                while let b = try? winch.read(upTo: 64), !b.isEmpty { sendSize(socket) }
            }
        }
        var sessionID = "?"
        var exitCode: Int32 = 0
        do {
            for try await message in socket.messages {
                switch message {
                case .binary(let bytes): writeAll(to: 1, bytes)
                case .text(let text):
                    let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
                    switch object["type"] as? String {
                    case "session": sessionID = object["session_id"] as? String ?? "?"
                    case "exit": exitCode = Int32(object["exit_code"] as? Int ?? 0)
                    case "error":
                        terminal.restore()
                        throw CLIError.failure(object["message"] as? String ?? "shell failed")
                    default: break
                    }
                }
            }
        } catch let error as CLIError { throw error } catch {}
        terminal.restore()
        if detached.load(ordering: .acquiring) {
            printError("\r\ndetached from session \(sessionID) (it keeps running; `bhatti shell \(sandbox)` reattaches)")
        }
        return exitCode
    }

    static func sendSize(_ socket: WebSocket) {
        var ws = winsize()
        guard ioctl(0, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_row > 0 else { return }
        try? socket.send(text: "{\"type\":\"resize\",\"rows\":\(ws.ws_row),\"cols\":\(ws.ws_col)}")
    }

}

/// The local terminal in raw mode for as long as the value lives (or until `restore`).
final class RawTerminal: Sendable {
    private let saved: Mutex<termios?>

    init() {
        var original = termios()
        guard isatty(0) == 1, tcgetattr(0, &original) == 0 else {
            saved = Mutex(nil)
            return
        }
        var raw = original
        cfmakeraw(&raw)
        tcsetattr(0, TCSANOW, &raw)
        saved = Mutex(original)
    }

    func restore() {
        guard
            var original = saved.withLock({ s in
                defer { s = nil }
                return s
            })
        else { return }
        tcsetattr(0, TCSANOW, &original)
    }
}

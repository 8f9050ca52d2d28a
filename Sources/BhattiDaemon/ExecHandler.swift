import BhattiAPI
import BhattiCore
import BhattiEngine
import BhattiHTTP
import BhattiJSON
import Foundation
import Synchronization

/// `POST /v1/sandboxes/{id}/exec`: buffered JSON, or NDJSON lines flushed as the command writes.
enum ExecHandler {
    static let defaultTimeout = 300.0
    /// Combined output kept for a buffered reply; past it the rest is dropped and a marker added.
    static let bufferedOutputLimit = 10 << 20
    /// Output past which the buffered reply is encoded off the HTTP loop.
    static let largeReplyBytes = 256 << 10

    static func exec(_ request: HTTPRequest, id: SandboxRef, service: SandboxService) async throws -> HTTPResponse {
        let body = try decodeExecBody(request)
        guard !body.cmd.isEmpty, !body.cmd[0].isEmpty else { throw BhattiError(.invalidArgument, "cmd must name a command") }
        try CommandInput.validate(argv: body.cmd, env: body.env ?? [:], cwd: body.cwd)
        if body.detach == true {
            let reply = try await service.withGuest(id) {
                try await $0.execDetached(GuestCommand(argv: body.cmd, env: body.env ?? [:], cwd: body.cwd))
            }
            return try json(DetachedExecDTO(pid: reply.pid, outputFile: reply.outputFile))
        }
        let timeoutSeconds = body.timeoutSec ?? defaultTimeout
        guard timeoutSeconds > 0, timeoutSeconds <= 86_400 else {
            throw BhattiError(.invalidArgument, "timeout_sec must be between 0 and 86400")
        }
        let exec = GuestCommand(argv: body.cmd, env: body.env ?? [:], cwd: body.cwd)
        let stdin = body.stdin.map { Array($0.utf8) }
        let timeout = Duration.milliseconds(Int64(timeoutSeconds * 1000))
        if request.headers["Accept"]?.contains(APIVersion.ndjson) == true {
            // Fail fast (404, 409) before committing to a streamed 200.
            _ = try await service.guest(id)
            return stream(id: id, exec: exec, stdin: stdin, timeout: timeout, service: service)
        }
        let collected = Mutex((stdout: [UInt8](), stderr: [UInt8](), dropped: false))
        let outcome = try await service.exec(id, command: exec, stdin: stdin, timeout: timeout) { event in
            collected.withLock { c in
                let room = bufferedOutputLimit - c.stdout.count - c.stderr.count
                switch event {
                case .stdout(let b):
                    c.stdout += b.prefix(max(0, room))
                    c.dropped = c.dropped || b.count > room
                case .stderr(let b):
                    c.stderr += b.prefix(max(0, room))
                    c.dropped = c.dropped || b.count > room
                case .exit: break
                }
            }
        }
        let (out, err, dropped) = collected.withLock { ($0.stdout, $0.stderr, $0.dropped) }
        let reply: @Sendable () -> HTTPResponse = {
            let stderrText = String(decoding: err, as: UTF8.self) + (dropped ? "\n[output truncated at 10MB]" : "")
            return fastJSON(
                ExecResultDTO(
                    exitCode: outcome.exitCode, stdout: String(decoding: out, as: UTF8.self), stderr: stderrText,
                    durationMs: milliseconds(outcome.duration)))
        }
        // This handler may run on the HTTP loop (`APIHandler.placement`): megabytes of output are
        // encoded on the pool instead, so other connections do not wait for them.
        if out.count + err.count <= largeReplyBytes { return reply() }
        return await withTaskExecutorPreference(globalConcurrentExecutor) { reply() }
    }

    private static func stream(id: SandboxRef, exec: GuestCommand, stdin: [UInt8]?, timeout: Duration, service: SandboxService)
        -> HTTPResponse
    {
        // The server runs the producer when the response starts and cancels it if the client goes
        // away; cancelling the exec kills the command's process group. Each line waits while the
        // client is not taking the stream (`send`), and the guest is credited only after it: a client
        // that stops reading stops the command at its pipe, with this stream holding about
        // `ResponseStream.defaultHighWater` (twice it, plus a line, at most).
        let output = ResponseStream { output in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            let send: @Sendable (ExecStreamLine) async -> Void = { line in
                var bytes = (try? Array(encoder.encode(line))) ?? []
                bytes.append(UInt8(ascii: "\n"))
                await output.send(bytes)
            }
            do {
                let outcome = try await service.exec(id, command: exec, stdin: stdin, timeout: timeout) { event in
                    switch event {
                    case .stdout(let b): await send(ExecStreamLine(type: "stdout", data: String(decoding: b, as: UTF8.self)))
                    case .stderr(let b): await send(ExecStreamLine(type: "stderr", data: String(decoding: b, as: UTF8.self)))
                    case .exit: break
                    }
                }
                await send(ExecStreamLine(type: "exit", exitCode: outcome.exitCode, durationMs: milliseconds(outcome.duration)))
            } catch {
                await send(ExecStreamLine(type: "error", data: (error as? BhattiError)?.message ?? "internal error"))
            }
        }
        var response = HTTPResponse(status: 200, body: .stream(output))
        response.headers.set("Content-Type", APIVersion.ndjson)
        return response
    }

    /// The exec body. This route is on every agent's hot path, and JSONDecoder's keyed decoding cost
    /// ~0.1 ms of it: a body FastJSON reads as it is (known keys, right types) is taken from there;
    /// anything else goes through `decodeBody`, whose errors every route shares.
    static func decodeExecBody(_ request: HTTPRequest) throws -> ExecRequestDTO {
        do { return try fastBody(request.body) } catch let malformed as FastJSON.Malformed {
            // Already found: no second and third parse to find it again.
            if let key = malformed.duplicateKey { throw duplicateKeyError(key) }
        } catch {}
        return try decodeBody(ExecRequestDTO.self, from: request, known: ExecRequestDTO.knownFields)
    }

    struct NotFast: Error {}

    static func fastBody(_ bytes: [UInt8]) throws -> ExecRequestDTO {
        let o = try FastJSONObject(bytes)
        guard o.keys.allSatisfy(ExecRequestDTO.knownFields.contains) else { throw NotFast() }
        return ExecRequestDTO(
            cmd: try o.strings("cmd"), env: try o.optionalStringMap("env"), cwd: try o.optionalString("cwd"),
            timeoutSec: try o.optionalDouble("timeout_sec"), detach: try o.optionalBool("detach"), stdin: try o.optionalString("stdin"))
    }

    /// The buffered reply as `json` would write it (sorted keys, slashes unescaped), by hand.
    static func fastJSON(_ result: ExecResultDTO) -> HTTPResponse {
        var w = FastJSON.ObjectWriter()
        w.add("duration_ms", result.durationMs)
        w.add("exit_code", Int(result.exitCode))
        w.add("stderr", result.stderr)
        w.add("stdout", result.stdout)
        return HTTPResponse.json(status: 200, bytes: w.finished())
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}

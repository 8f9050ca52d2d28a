import BhattiAPI
import BhattiHTTP
import Foundation
import Glibc

/// `bhatti exec SB CMD ARG…`: streams output live and exits with the command's code. As `docker exec`,
/// exec's own flags come before the sandbox or the command; the command word and everything after it
/// (flags included) pass through untouched. `--` before the command still works.
enum ExecCommand {
    static let command = BhattiCommand.Command(
        names: ["exec"],
        usage: "bhatti exec [--timeout S] [-e K=V]… [--cwd DIR] [-i] [-d] SANDBOX [--] CMD [ARG…]",
        summary:
            "Run a command in a sandbox. Output streams as it is produced; the exit code is the command's. Everything after CMD passes to it untouched.",
        options: [
            OptionSpec("--timeout", kind: .value, help: "kill the command after S seconds (exit 124)"),
            OptionSpec("--env", "-e", kind: .repeated, help: "set an environment variable for the command"),
            OptionSpec("--cwd", kind: .value, help: "working directory in the guest"),
            OptionSpec("--stdin", "-i", kind: .flag, help: "send this process's stdin to the command"),
            OptionSpec("--detach", "-d", kind: .flag, help: "start it in the background; print its pid and output file"),
        ],
        restAfter: 1
    ) { args, ctx in
        guard let target = args.positionals.first else { throw UsageError("exec needs a sandbox name or id") }
        let cmd = args.rest ?? []
        guard !cmd.isEmpty else { throw UsageError("exec needs a command after the sandbox") }
        if args.has("--detach") {
            let body = ExecRequestDTO(
                cmd: cmd, env: try args.pairs("--env").isEmpty ? nil : try args.pairs("--env"), cwd: args.value("--cwd"), detach: true)
            let reply = try ctx.decode(
                DetachedExecDTO.self,
                try ctx.request(
                    .exec(target), body: Array(try JSONEncoder().encode(body))))
            if ctx.json { ctx.printJSON(reply) } else { print("pid: \(reply.pid)\noutput: \(reply.outputFile)") }
            return 0
        }
        var timeout: Double?
        if let raw = args.value("--timeout") {
            guard let t = Double(raw), t > 0 else { throw UsageError("--timeout expects seconds, got \"\(raw)\"") }
            timeout = t
        }
        var stdin: String?
        if args.has("--stdin") { stdin = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        let env = try args.pairs("--env")
        let body = ExecRequestDTO(cmd: cmd, env: env.isEmpty ? nil : env, cwd: args.value("--cwd"), timeoutSec: timeout, stdin: stdin)
        let payload = Array(try JSONEncoder().encode(body))
        if ctx.json {
            let result = try ctx.decode(ExecResultDTO.self, try ctx.request(.exec(target), body: payload))
            ctx.printJSON(result)
            return result.exitCode
        }
        return try stream(ctx: ctx, route: .exec(target), payload: payload)
    }

    /// Reads NDJSON lines as they arrive and writes each chunk to our stdout or stderr.
    static func stream(ctx: CLIContext, route: APIRoute, payload: [UInt8]) throws -> Int32 {
        var headers = ctx.headers
        headers.set("Accept", APIVersion.ndjson)
        var exitCode: Int32?
        var failure: String?
        var status = 0
        var lines = NDJSONLines()
        let decoder = JSONDecoder()
        do {
            _ = try ctx.client().stream(
                method: route.method, path: route.path, headers: headers, body: payload, onHead: { s, _ in status = s }
            ) { chunk in
                // An error reply is one JSON object: it stays whole in `lines.head`.
                for line in lines.append(chunk) where status < 400 {
                    guard let event = try? decoder.decode(ExecStreamLine.self, from: Data(line)) else { continue }
                    switch event.type {
                    case "stdout": writeAll(to: 1, Array((event.data ?? "").utf8))
                    case "stderr": writeAll(to: 2, Array((event.data ?? "").utf8))
                    case "exit": exitCode = event.exitCode
                    case "error": failure = event.data ?? "exec failed"
                    default: continue
                    }
                }
            }
        } catch let error as HTTPClientError {
            throw ctx.transportError(error)
        }
        if status >= 400 { throw ctx.serverError(status: status, body: lines.head) }
        if let failure { throw CLIError.failure(failure) }
        guard let exitCode else { throw CLIError.failure("the daemon closed the stream before the command finished") }
        return exitCode
    }

}

import BhattiAPI
import BhattiHTTP
import Foundation
import Glibc

/// `bhatti file read|write|ls SB PATH`, and `bhatti ps SB`.
enum FileCommand {
    static let command = BhattiCommand.Command(
        names: ["file"],
        usage:
            "bhatti file read SB PATH [--offset N] [--limit N] [--max-bytes N] | file write SB PATH [--mode 0644] < data | file ls SB PATH",
        summary: "Read a file to stdout (optionally a slice of lines or bytes), write stdin atomically to a file, or list a directory.",
        options: [
            OptionSpec("--offset", kind: .value, help: "read: the first line to print (1 is the first line)"),
            OptionSpec("--limit", kind: .value, help: "read: at most this many lines"),
            OptionSpec("--max-bytes", kind: .value, help: "read: at most this many bytes"),
            OptionSpec("--mode", kind: .value, help: "write: the file's mode (default 0644)"),
        ],
        verbs: ["read", "write", "ls"]
    ) { args, ctx in
        guard args.positionals.count == 3 else { throw UsageError("file needs an action, a sandbox and a path") }
        let (action, sandbox, path) = (args.positionals[0], args.positionals[1], args.positionals[2])
        switch action {
        case "read", "cat":
            var query = [("path", path)]
            for (flag, name) in [("--offset", "offset"), ("--limit", "limit"), ("--max-bytes", "max_bytes")] {
                if let n = try args.int(flag) { query.append((name, String(n))) }
            }
            let route = APIRoute.readFile(sandbox)
            var status = 0
            var errorBody: [UInt8] = []
            do {
                _ = try ctx.client().stream(
                    method: route.method, path: route.target(query: query), headers: ctx.headers, onHead: { s, _ in status = s }
                ) { chunk in
                    if status >= 400 { errorBody += chunk } else { writeAll(to: 1, chunk) }
                }
            } catch let error as HTTPClientError { throw ctx.transportError(error) }
            if status >= 400 { throw ctx.serverError(status: status, body: errorBody) }
            return 0
        case "write":
            let data = Array(FileHandle.standardInput.readDataToEndOfFile())
            let mode = args.value("--mode") ?? "0644"
            let info = try ctx.decode(
                FileInfoDTO.self, try ctx.request(.writeFile(sandbox), query: [("path", path), ("mode", mode)], body: data))
            if ctx.json { ctx.printJSON(info) } else { printError("wrote \(info.size) bytes to \(path)") }
            return 0
        case "ls":
            let listing = try ctx.decode(FileListingDTO.self, try ctx.request(.readFile(sandbox), query: [("path", path), ("ls", "true")]))
            if ctx.json {
                ctx.printJSON(listing)
                return 0
            }
            for e in listing.entries { print("\(permissions(e.mode, isDir: e.isDir))  \(String(e.size).leftPad(10))  \(e.name)") }
            if listing.truncated { print("… \(listing.total - listing.entries.count) more (\(listing.total) entries)") }
            return 0
        default:
            throw UsageError("file action must be read, write or ls")
        }
    }

    /// `ls -l`'s mode column from the agent's octal mode: `0644` → `-rw-r--r--`, `1777` → `drwxrwxrwt`.
    static func permissions(_ octal: String, isDir: Bool) -> String {
        guard let bits = Int(octal, radix: 8) else { return (isDir ? "d" : "-") + octal }
        var out = isDir ? "d" : "-"
        for (shift, special, mark) in [(6, 0o4000, "s"), (3, 0o2000, "s"), (0, 0o1000, "t")] {
            let triple = (bits >> shift) & 7
            out += triple & 4 != 0 ? "r" : "-"
            out += triple & 2 != 0 ? "w" : "-"
            let x = triple & 1 != 0
            out += bits & special != 0 ? (x ? mark : mark.uppercased()) : (x ? "x" : "-")
        }
        return out
    }

    static let ps = BhattiCommand.Command(
        names: ["ps"], usage: "bhatti ps SB", summary: "List the sandbox's sessions.", options: []
    ) { args, ctx in
        guard args.positionals.count == 1 else { throw UsageError("ps takes one sandbox name or id") }
        let sessions = try ctx.decode([SessionDTO].self, try ctx.request(.sessions(args.positionals[0])))
        if ctx.json {
            ctx.printJSON(sessions)
            return 0
        }
        let rows = sessions.map { [$0.sessionID, $0.argv, $0.running ? "yes" : "no (\($0.exitCode ?? 0))", $0.attached ? "yes" : "no"] }
        print(SandboxCommands.table(header: ["ID", "COMMAND", "RUNNING", "ATTACHED"], rows: rows))
        return 0
    }

}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

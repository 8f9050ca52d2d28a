import BhattiAPI
import Foundation
import Glibc

/// `bhatti snapshot create SB --name N | list | restore N [--name NEW] | delete N`.
enum SnapshotCommand {
    static let command = BhattiCommand.Command(
        names: ["snapshot"],
        usage: "bhatti snapshot create SANDBOX --name NAME | list | restore NAME [--name NEW] | delete NAME",
        summary: "Named memory+disk checkpoints of running sandboxes; restore makes a new sandbox.",
        options: [OptionSpec("--name", kind: .value, help: "create: the snapshot's name; restore: the new sandbox's name")],
        verbs: ["create", "list", "restore", "delete"]
    ) { args, ctx in
        guard let verb = args.positionals.first else { throw UsageError("snapshot needs create, list, restore or delete") }
        let rest = Array(args.positionals.dropFirst())
        switch verb {
        case "create":
            guard rest.count == 1, let name = args.value("--name") else { throw UsageError("snapshot create SANDBOX --name NAME") }
            let body = try JSONEncoder().encode(CreateSnapshotRequest(name: name))
            let response = try Progress.run("snapshotting \(rest[0])", json: ctx.json) {
                try ctx.request(.createSnapshot(rest[0]), body: Array(body))
            }
            let snapshot = try ctx.decode(SnapshotDTO.self, response)
            if ctx.json {
                ctx.printJSON(snapshot)
            } else {
                print("snapshot/\(snapshot.name) created from \(rest[0]) (\(megabytes(snapshot.sizeBytes)))")
            }
        case "list", "ls":
            guard rest.isEmpty else { throw UsageError("snapshot list takes no arguments") }
            let list = try ctx.decode([SnapshotDTO].self, try ctx.request(.snapshots))
            if ctx.json {
                ctx.printJSON(list)
                return 0
            }
            let rows = list.map { s in
                [
                    s.name, s.sourceSandboxName ?? s.sourceSandboxID ?? "-", String(s.cpus), SandboxCommands.mebibytes(s.memoryMB),
                    megabytes(s.sizeBytes), s.createdAt,
                ]
            }
            print(SandboxCommands.table(header: ["NAME", "SOURCE", "CPUS", "MEMORY", "SIZE", "CREATED"], rows: rows))
        case "restore":
            guard rest.count == 1 else { throw UsageError("snapshot restore NAME [--name NEW]") }
            let body = try JSONEncoder().encode(RestoreSnapshotRequest(name: args.value("--name")))
            let response = try Progress.run("restoring snapshot \(rest[0]) into a new sandbox", json: ctx.json) {
                try ctx.request(.restoreSnapshot(rest[0]), body: Array(body))
            }
            let sandbox = try ctx.decode(SandboxDTO.self, response)
            if ctx.json {
                ctx.printJSON(sandbox)
            } else {
                print("sandbox/\(sandbox.name) restored from snapshot/\(rest[0]) (id \(sandbox.id))")
            }
        case "delete", "rm":
            guard rest.count == 1 else { throw UsageError("snapshot delete NAME") }
            try ctx.confirm("delete snapshot \(rest[0]) and its files?")
            _ = try ctx.request(.deleteSnapshot(rest[0]))
            if ctx.json { ctx.printJSON(["status": "deleted"]) } else { print("snapshot/\(rest[0]) deleted") }
        default:
            throw UsageError("unknown snapshot command \"\(verb)\": use create, list, restore or delete")
        }
        return 0
    }

    private static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}

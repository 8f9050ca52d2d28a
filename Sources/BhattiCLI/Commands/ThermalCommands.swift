import BhattiAPI
import Foundation

/// `bhatti pause|stop|start SANDBOX`: move a sandbox between the thermal tiers by hand.
enum ThermalCommands {
    static let pause = command(
        "pause", APIRoute.pause, summary: "Pause a sandbox's vCPUs (warm): memory stays resident, resume is instant.")
    static let stop = command("stop", APIRoute.stop, summary: "Snapshot a sandbox to disk (cold): QEMU ends and its memory is freed.")
    static let start = command(
        "start", APIRoute.start, summary: "Bring a warm or cold sandbox back to hot, or boot one in `error` again from its disk.")

    private static func command(_ verb: String, _ route: @escaping @Sendable (String) -> APIRoute, summary: String) -> BhattiCommand.Command
    {
        BhattiCommand.Command(names: [verb], usage: "bhatti \(verb) SANDBOX", summary: summary, options: []) { args, ctx in
            guard args.positionals.count == 1 else { throw UsageError("\(verb) takes one sandbox name or id") }
            let s = try ctx.decode(SandboxDTO.self, try ctx.request(route(args.positionals[0])))
            if ctx.json { ctx.printJSON(s) } else { print("\(s.name) \(s.state)") }
            return 0
        }
    }
}

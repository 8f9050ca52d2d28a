import BhattiCore
import BhattiDaemon
import BhattiEngine
import BhattiSystem
import Foundation

/// `bhatti serve`: the daemon in the foreground.
enum ServeCommand {
    static let command = BhattiCommand.Command(
        names: ["serve"],
        usage: "bhatti serve [--config FILE] [--data-dir DIR] [--image-dir DIR] [--listen HOST:PORT] [--proxy-listen HOST:PORT] [--warm-after DUR] [--cold-after DUR] [--accel auto|kvm|tcg]",
        summary: "Run the daemon: REST API on <data-dir>/api.sock and --listen (default 127.0.0.1:8080; empty disables TCP); preview URLs on --proxy-listen (default 127.0.0.1:8081; empty disables it).",
        options: [
            OptionSpec("--config", kind: .value), OptionSpec("--data-dir", kind: .value), OptionSpec("--image-dir", kind: .value),
            OptionSpec("--listen", kind: .value), OptionSpec("--accel", kind: .value),
            OptionSpec("--proxy-listen", kind: .value), OptionSpec("--warm-after", kind: .value), OptionSpec("--cold-after", kind: .value),
        ]
    ) { args, _ in
        var config = try args.value("--config").map { try DaemonConfiguration.load(file: $0) } ?? DaemonConfiguration()
        if let v = args.value("--data-dir") { config.dataDirectory = absolute(v) }
        if let v = args.value("--image-dir") { config.imageDirectory = absolute(v) }
        if let v = args.value("--listen") { config.listen = v }
        if let v = args.value("--proxy-listen") { config.proxyListen = v }
        if let v = args.value("--warm-after") { config.warmAfter = v }
        if let v = args.value("--cold-after") { config.coldAfter = v }
        do { _ = try config.thermalPolicy } catch let e as BhattiError { throw UsageError(e.message) }
        if let v = args.value("--accel") {
            guard let choice = AcceleratorChoice(rawValue: v) else { throw UsageError("--accel must be auto, kvm or tcg") }
            config.accelerator = choice
        }
        _ = try config.listenAddress()
        try await Daemon.serve(config)
        return 0
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

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
        summary: "Run the daemon in the foreground. The REST API is on <data-dir>/api.sock and --listen (default 127.0.0.1:8080; empty disables TCP); preview URLs on --proxy-listen (default 127.0.0.1:8081; empty disables it).",
        options: [
            OptionSpec("--config", kind: .value, help: "a JSON configuration file (flags override it)"),
            OptionSpec("--data-dir", kind: .value, help: "state, sandboxes and api.sock (default /var/lib/bhatti)"),
            OptionSpec("--image-dir", kind: .value, help: "the guest image (default /var/lib/bhatti/images/default)"),
            OptionSpec("--listen", kind: .value, help: "TCP address of the API (default 127.0.0.1:8080; empty: none)"),
            OptionSpec("--accel", kind: .value, help: "auto (KVM when usable), kvm or tcg"),
            OptionSpec("--proxy-listen", kind: .value, help: "address of the preview-URL proxy (default 127.0.0.1:8081; empty: none)"),
            OptionSpec("--warm-after", kind: .value, help: "idle time before a sandbox is paused, e.g. 30s"),
            OptionSpec("--cold-after", kind: .value, help: "idle time before a paused sandbox is snapshotted to disk, e.g. 5m"),
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

import BhattiCLI
import BhattiCore
import BhattiDaemon
import BhattiEngine
import Foundation

/// `bhatti serve`: the daemon in the foreground (its usage is `BhattiCLI`'s `HostCommands.serve`).
enum Serve {
    static let run: BhattiCommand.Run = { args, _ in
        var config = try args.value("--config").map { try DaemonConfiguration.load(file: $0) } ?? DaemonConfiguration()
        if let v = args.value("--data-dir") { config.dataDirectory = absolute(v) }
        if let v = args.value("--image-dir") { config.imageDirectory = absolute(v) }
        if let v = args.value("--default-image") { config.defaultImage = v }
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

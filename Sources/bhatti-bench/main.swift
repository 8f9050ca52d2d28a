import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import BhattiWire
import Foundation

// bhatti-bench: real VMs through the real daemon (unix socket API), plus the raw agent channel.
// Usage: bhatti-bench IMAGE_DIR OUT.md [--boots N] [--execs N] [--pings N] [--cli PATH]
let args = CommandLine.arguments
guard args.count >= 3 else {
    print("usage: bhatti-bench IMAGE_DIR OUT.md [--boots N] [--execs N] [--pings N] [--cli PATH]")
    exit(2)
}
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let n = Int(args[i + 1]) else { return fallback }
    return n
}
let cliPath = args.firstIndex(of: "--cli").map { args[$0 + 1] }
let report = try await Bench(
    imageDirectory: args[1], boots: option("--boots", 10), execs: option("--execs", 200), pings: option("--pings", 2000), cli: cliPath
).run()
try report.write(toFile: args[2], atomically: true, encoding: .utf8)
print(report)

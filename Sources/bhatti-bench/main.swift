import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import BhattiWire
import Foundation

// bhatti-bench: real VMs through the real daemon (unix socket API), plus the raw agent channel.
let usage = """
    usage: bhatti-bench IMAGE_DIR OUT.md [--boots N] [--execs N] [--pings N] [--cli PATH]
           [--cycles N] [--warm-wakes N] [--cold-wakes N] [--fleet N] [--fleet-rounds N] [--thermal-only]
           [--image-imports N] [--images-only] [--e2b-execs N] [--e2b-only]
    """
let args = CommandLine.arguments
guard args.count >= 3 else {
    print(usage)
    exit(2)
}
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let n = Int(args[i + 1]) else { return fallback }
    return n
}
let cliPath = args.firstIndex(of: "--cli").map { args[$0 + 1] }
var thermal = ThermalOptions()
thermal.cycles = option("--cycles", thermal.cycles)
thermal.warmWakes = option("--warm-wakes", thermal.warmWakes)
thermal.coldWakes = option("--cold-wakes", thermal.coldWakes)
thermal.fleet = option("--fleet", thermal.fleet)
thermal.fleetRounds = option("--fleet-rounds", thermal.fleetRounds)
thermal.templateCreates = option("--template-creates", thermal.templateCreates)
thermal.only = args.contains("--thermal-only")
var bench = Bench(
    imageDirectory: args[1], boots: option("--boots", 10), execs: option("--execs", 200), pings: option("--pings", 2000), cli: cliPath,
    thermal: thermal)
bench.imageImports = option("--image-imports", 6)
bench.imagesOnly = args.contains("--images-only")
bench.e2bExecs = option("--e2b-execs", 200)
bench.e2bOnly = args.contains("--e2b-only")
let report = try await bench.run()
try report.write(toFile: args[2], atomically: true, encoding: .utf8)
print(report)

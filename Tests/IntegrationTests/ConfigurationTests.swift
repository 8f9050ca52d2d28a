import BhattiCore
import BhattiDaemon
import Foundation
import Testing

/// The daemon's JSON config file: known keys land in the configuration, mistakes are refused at start.
@Suite("Config file")
struct ConfigurationTests {
    private func load(_ json: String) throws -> DaemonConfiguration {
        let path = NSTemporaryDirectory() + "bhatti-config-\(UInt32.random(in: 0...UInt32.max)).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try DaemonConfiguration.load(file: path)
    }

    @Test("vmm_user and io_limits are read; absent ones keep their defaults")
    func confinementKeys() throws {
        let defaults = try load("{}")
        #expect(defaults.vmmUser == "bhatti-vmm" && defaults.ioLimits == .unlimited)
        let set = try load(#"{"vmm_user": "", "io_limits": {"disk_bytes_per_s": 1048576, "net_mbit_per_s": 20}}"#)
        #expect(set.vmmUser == "")
        #expect(set.ioLimits == IOLimits(diskBytesPerSecond: 1 << 20, diskIOPS: 0, netMbitPerSecond: 20))
    }

    @Test("client_write_timeout_s is read (60 by default, 0 for none)")
    func clientWriteTimeout() throws {
        #expect(try load("{}").clientWriteTimeoutSeconds == 60)
        #expect(try load(#"{"client_write_timeout_s": 0}"#).clientWriteTimeoutSeconds == 0)
        #expect(try load(#"{"client_write_timeout_s": 300}"#).clientWriteTimeoutSeconds == 300)
    }

    @Test("an unknown key, a bad io limit, a negative timeout or a lone TLS certificate is refused, naming the problem")
    func mistakes() {
        for (json, words) in [
            (#"{"vmm_usr": "x"}"#, "unknown key \"vmm_usr\""),
            (#"{"io_limits": {"disk_iops": -5}}"#, "io_limits"),
            (#"{"io_limits": {"disk_bytes_per_s": 100}}"#, "at least 65536"),
            (#"{"proxy_tls_cert": "/x.crt"}"#, "go together"),
            (#"{"client_write_timeout_s": -1}"#, "0 or more"),
        ] {
            #expect {
                _ = try load(json)
            } throws: { error in
                (error as? BhattiError)?.code == .invalidArgument && "\(error)".contains(words)
            }
        }
    }
}

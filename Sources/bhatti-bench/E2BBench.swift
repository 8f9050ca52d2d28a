import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation

/// A command through the official e2b SDK against the same command through the native API, both
/// from Python over kept-alive connections to one sandbox (bench/e2b_exec.py, in the pinned venv of
/// scripts/e2b-venv.sh), pointed at the daemon the user's way: `eval "$(bhatti e2b env)"`.
struct E2BBench {
    let execs: Int
    let cli: String

    func run(_ daemon: Daemon) async throws -> [Samples] {
        guard let port = daemon.tcpPort else { throw BenchError("the e2b rows need the daemon's TCP listener") }
        // The admin's key: a user's is rate limited on the native API, which would time the limiter.
        let key = daemon.adminKey
        let root = FileManager.default.currentDirectoryPath
        log("e2b: the SDK's venv")
        let python = shell("sh \(root)/scripts/e2b-venv.sh").trimmingCharacters(in: .whitespacesAndNewlines)
        guard FileManager.default.isExecutableFile(atPath: python) else { throw BenchError("no e2b venv: \(python)") }
        log("e2b: \(execs) SDK execs and \(execs) native ones, interleaved")
        let script = """
            eval "$('\(cli)' --url 'unix://\(daemon.socketPath)' --token '\(key)' e2b env --api-url 'http://127.0.0.1:\(port)')" &&
            exec '\(python)' '\(root)/bench/e2b_exec.py' 127.0.0.1 \(port) \(execs)
            """
        let output = shell(script)
        guard let line = output.split(separator: "\n").last, let json = try? JSONDecoder().decode(Output.self, from: Data(line.utf8))
        else { throw BenchError("bench/e2b_exec.py said: \(output)") }
        var sdk = Samples("exec `true`, e2b SDK", how: "`Sandbox.commands.run(\"true\")`: Connect stream to /e2b/envd, kept alive (Python)")
        var native = Samples(
            "exec `true`, native API from Python",
            how:
                "POST /v1/sandboxes/{id}/exec of the SDK's argv (`bash -l -c true`), http.client kept alive, interleaved with the row above"
        )
        var paired = Samples("e2b SDK minus native, paired", how: "each SDK sample less the native one run right after it (ms)")
        sdk.values = json.sdk
        native.values = json.native
        paired.values = json.paired
        let refused = "a missing working directory, which the guest refuses before it forks"
        var sdkRefused = Samples(
            "exec refused by the guest, e2b SDK", how: "`commands.run(\"true\", cwd=\"/nonexistent\")`: \(refused); exit 127")
        var nativeRefused = Samples(
            "exec refused by the guest, native API from Python",
            how: "the same argv and cwd through POST …/exec, interleaved with the row above")
        var pairedRefused = Samples(
            "e2b SDK minus native, refused, paired",
            how: "each SDK sample less the native one right after it: the protocols' difference (ms)")
        sdkRefused.values = json.sdkRefused
        nativeRefused.values = json.nativeRefused
        pairedRefused.values = json.pairedRefused
        return [sdk, native, paired, sdkRefused, nativeRefused, pairedRefused]
    }

    private struct Output: Decodable {
        var sdk: [Double]
        var native: [Double]
        var paired: [Double]
        var sdkRefused: [Double]
        var nativeRefused: [Double]
        var pairedRefused: [Double]

        enum CodingKeys: String, CodingKey {
            case sdk, native, paired
            case sdkRefused = "sdk_refused"
            case nativeRefused = "native_refused"
            case pairedRefused = "paired_refused"
        }
    }
}

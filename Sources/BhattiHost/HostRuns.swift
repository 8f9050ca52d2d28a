public import BhattiCLI

/// What `bhatti serve` and `bhatti image` do, by command name, for `BhattiCommand.main(…, local:)`:
/// the daemon and the image builder sit here, above the CLI, which only talks to a daemon.
public enum HostRuns {
    public static let all: [String: BhattiCommand.Run] = ["serve": Serve.run, "image": ImageBuild.run]
}

public import BhattiCLI

/// What `bhatti serve` and `bhatti image build` do, by command name (and first word), for
/// `BhattiCommand.main(…, local:)`: the daemon and the image builder sit here, above the CLI, which
/// only talks to a daemon (`image list|inspect|delete` do).
public enum HostRuns {
    public static let all: [String: BhattiCommand.Run] = ["serve": Serve.run, "image build": ImageBuild.run]
}

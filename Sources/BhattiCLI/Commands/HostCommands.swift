import Foundation

/// `bhatti serve` (and `bhatti image build`, whose usage is `ImageCommand`'s): commands that run on
/// this host instead of asking a daemon. Only their usage lives here, for help and completion; what
/// they do is `BhattiHost`'s, handed in by the `bhatti` executable (`BhattiCommand.main(…, local:)`),
/// so the CLI needs neither daemon nor engine.
enum HostCommands {
    static let serve = BhattiCommand.Command(
        names: ["serve"],
        usage:
            "bhatti serve [--config FILE] [--data-dir DIR] [--image-dir DIR] [--default-image NAME] [--listen HOST:PORT] [--proxy-listen HOST:PORT] [--warm-after DUR] [--cold-after DUR] [--accel auto|kvm|tcg]",
        summary:
            "Run the daemon in the foreground. The REST API is on <data-dir>/api.sock and --listen (default 127.0.0.1:8080; empty disables TCP); preview URLs on --proxy-listen (default 127.0.0.1:8081; empty disables it).",
        options: [
            OptionSpec("--config", kind: .value, help: "a JSON configuration file (flags override it)"),
            OptionSpec("--data-dir", kind: .value, help: "state, sandboxes and api.sock (default /var/lib/bhatti)"),
            OptionSpec("--image-dir", kind: .value, help: "the image named default (default /var/lib/bhatti/images/default)"),
            OptionSpec("--default-image", kind: .value, help: "the image a create without --image boots (default: default)"),
            OptionSpec("--listen", kind: .value, help: "TCP address of the API (default 127.0.0.1:8080; empty: none)"),
            OptionSpec("--accel", kind: .value, help: "auto (KVM when usable), kvm or tcg"),
            OptionSpec("--proxy-listen", kind: .value, help: "address of the preview-URL proxy (default 127.0.0.1:8081; empty: none)"),
            OptionSpec("--warm-after", kind: .value, help: "idle time before a sandbox is paused, e.g. 30s"),
            OptionSpec("--cold-after", kind: .value, help: "idle time before a paused sandbox is snapshotted to disk, e.g. 5m"),
        ],
        run: notHere("serve"))

    /// What runs when no implementation was handed in (a test calling `main` directly).
    private static func notHere(_ name: String) -> BhattiCommand.Run {
        { _, _ in throw CLIError.failure("`bhatti \(name)` runs only in the bhatti executable") }
    }
}

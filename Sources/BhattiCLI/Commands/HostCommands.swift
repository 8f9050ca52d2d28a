import Foundation

/// `bhatti serve` and `bhatti image`: commands that run on this host instead of asking a daemon. Only
/// their usage lives here, for help and completion; what they do is `BhattiHost`'s, handed in by the
/// `bhatti` executable (`BhattiCommand.main(…, local:)`), so the CLI needs neither daemon nor engine.
enum HostCommands {
    static let serve = BhattiCommand.Command(
        names: ["serve"],
        usage:
            "bhatti serve [--config FILE] [--data-dir DIR] [--image-dir DIR] [--listen HOST:PORT] [--proxy-listen HOST:PORT] [--warm-after DUR] [--cold-after DUR] [--accel auto|kvm|tcg]",
        summary:
            "Run the daemon in the foreground. The REST API is on <data-dir>/api.sock and --listen (default 127.0.0.1:8080; empty disables TCP); preview URLs on --proxy-listen (default 127.0.0.1:8081; empty disables it).",
        options: [
            OptionSpec("--config", kind: .value, help: "a JSON configuration file (flags override it)"),
            OptionSpec("--data-dir", kind: .value, help: "state, sandboxes and api.sock (default /var/lib/bhatti)"),
            OptionSpec("--image-dir", kind: .value, help: "the guest image (default /var/lib/bhatti/images/default)"),
            OptionSpec("--listen", kind: .value, help: "TCP address of the API (default 127.0.0.1:8080; empty: none)"),
            OptionSpec("--accel", kind: .value, help: "auto (KVM when usable), kvm or tcg"),
            OptionSpec("--proxy-listen", kind: .value, help: "address of the preview-URL proxy (default 127.0.0.1:8081; empty: none)"),
            OptionSpec("--warm-after", kind: .value, help: "idle time before a sandbox is paused, e.g. 30s"),
            OptionSpec("--cold-after", kind: .value, help: "idle time before a paused sandbox is snapshotted to disk, e.g. 5m"),
        ],
        run: notHere("serve"))

    static let image = BhattiCommand.Command(
        names: ["image"],
        usage: "bhatti image build [--out DIR] [--lohar PATH] [--init-source FILE] [--verbose] | bhatti image list [--out DIR]",
        summary: "Build the guest image (needs root, debootstrap, qemu-utils, e2fsprogs) or show the one built.",
        options: [
            OptionSpec("--out", kind: .value, help: "the image directory (default /var/lib/bhatti/images/default)"),
            OptionSpec("--lohar", kind: .value, help: "build: the static guest agent to put in it"),
            OptionSpec("--init-source", kind: .value, help: "build: guest/init.c, the guest's PID 1"),
            OptionSpec("--verbose", kind: .flag, help: "build: show each step"),
        ],
        verbs: ["build", "list"],
        run: notHere("image"))

    /// What runs when no implementation was handed in (a test calling `main` directly).
    private static func notHere(_ name: String) -> BhattiCommand.Run {
        { _, _ in throw CLIError.failure("`bhatti \(name)` runs only in the bhatti executable") }
    }
}

// swift-tools-version:6.0
import PackageDescription

// The same strictness for every Swift target: Swift 6 language mode, warnings are errors.
let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"]),
    // Spelled out, so the code says what it means: existentials as `any P`, imports internal unless
    // marked `public import`, and a member usable only where its module is imported.
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "bhatti",
    products: [
        .executable(name: "bhatti", targets: ["bhatti"]),
        .executable(name: "lohar", targets: ["lohar"]),
    ],
    targets: [
        // C: syscalls Glibc does not export, fork+exec, ioctl numbers. Returns -errno.
        .target(name: "CBhattiShim"),
        // C: mounts /proc before the Swift runtime starts (fully static binaries need /proc/self/exe).
        .target(name: "CLoharInit"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // zlib's inflate for gzip-compressed OCI and docker image layers.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "BhattiSystem", dependencies: ["CBhattiShim"], swiftSettings: strict),
        .target(name: "BhattiCore", swiftSettings: strict),
        // FastJSON: the small JSON reader and writer on the hot paths (agent messages, QMP, exec bodies).
        .target(name: "BhattiJSON", dependencies: ["BhattiSystem"], swiftSettings: strict),
        .target(name: "BhattiWire", dependencies: ["BhattiJSON", "BhattiSystem"], swiftSettings: strict),
        .target(name: "Lohar", dependencies: ["BhattiWire", "BhattiJSON", "BhattiSystem"], swiftSettings: strict),
        .executableTarget(name: "lohar", dependencies: ["Lohar", "CLoharInit"], swiftSettings: strict),
        // Guest image builder (kernel, initramfs, rootfs from Debian packages) and the OCI/docker archive
        // importer (tar, gzip, sha256 digests, layers applied safely as root); no VM knowledge.
        .target(name: "BhattiImage", dependencies: ["BhattiSystem", "CBhattiShim", "CZlib", "COpenSSL"], swiftSettings: strict),
        .target(
            name: "BhattiEngine", dependencies: ["BhattiCore", "BhattiJSON", "BhattiWire", "BhattiSystem", "BhattiImage", "COpenSSL"],
            swiftSettings: strict),
        .target(name: "BhattiStore", dependencies: ["BhattiCore", "CSQLite"], swiftSettings: strict),
        // The age file format (X25519 recipients) on libcrypto: secrets at rest, readable by the `age` CLI.
        .target(name: "BhattiAge", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "BhattiHTTP", dependencies: ["CBhattiShim", "BhattiSystem", "COpenSSL"], swiftSettings: strict),
        .target(name: "BhattiAPI", dependencies: ["BhattiCore", "BhattiSystem"], swiftSettings: strict),
        // The E2B wire formats, pure (no I/O): Connect framing and errors, proto3-JSON envd messages,
        // and the control plane's REST models, for serving the official e2b SDK.
        .target(name: "BhattiE2B", swiftSettings: strict),
        .target(
            name: "BhattiDaemon",
            dependencies: [
                "BhattiCore", "BhattiEngine", "BhattiStore", "BhattiHTTP", "BhattiAPI", "BhattiJSON", "BhattiSystem", "BhattiAge",
                "BhattiE2B", "COpenSSL",
            ],
            swiftSettings: strict),
        // The client: commands that talk to a daemon; no daemon, engine or image builder in it.
        .target(name: "BhattiCLI", dependencies: ["BhattiAPI", "BhattiHTTP", "BhattiCore", "BhattiSystem"], swiftSettings: strict),
        // The commands that run on this host (`serve`, `image`), which the executable hands to the CLI.
        .target(
            name: "BhattiHost", dependencies: ["BhattiCLI", "BhattiDaemon", "BhattiEngine", "BhattiImage", "BhattiCore", "BhattiSystem"],
            swiftSettings: strict),
        .executableTarget(name: "bhatti", dependencies: ["BhattiCLI", "BhattiHost", "BhattiSystem"], swiftSettings: strict),
        // `make bench`: boots real VMs through the real daemon and reports p50/p95/p99.
        .executableTarget(
            name: "bhatti-bench",
            dependencies: [
                "BhattiDaemon", "BhattiEngine", "BhattiHTTP", "BhattiAPI", "BhattiSystem", "BhattiWire", "BhattiStore", "BhattiCore",
            ],
            swiftSettings: strict),

        .testTarget(name: "BhattiSystemTests", dependencies: ["BhattiSystem"], swiftSettings: strict),
        .testTarget(name: "BhattiCoreTests", dependencies: ["BhattiCore"], swiftSettings: strict),
        // The pure lifecycle: the transition table and the idle policy as tables, time as values.
        .testTarget(name: "BhattiLifecycleTests", dependencies: ["BhattiCore"], swiftSettings: strict),
        .testTarget(name: "BhattiWireTests", dependencies: ["BhattiWire", "BhattiJSON"], swiftSettings: strict),
        .testTarget(name: "LoharTests", dependencies: ["Lohar", "BhattiWire", "BhattiSystem", "BhattiEngine"], swiftSettings: strict),
        .testTarget(
            name: "BhattiEngineTests", dependencies: ["BhattiEngine", "BhattiCore", "BhattiJSON", "BhattiWire", "BhattiSystem"],
            swiftSettings: strict),
        .testTarget(name: "BhattiImageTests", dependencies: ["BhattiImage", "BhattiSystem", "CZlib"], swiftSettings: strict),
        .testTarget(name: "BhattiStoreTests", dependencies: ["BhattiStore", "BhattiCore"], swiftSettings: strict),
        .testTarget(name: "BhattiAgeTests", dependencies: ["BhattiAge"], swiftSettings: strict),
        .testTarget(name: "BhattiHTTPTests", dependencies: ["BhattiHTTP", "BhattiSystem"], swiftSettings: strict),
        // The daemon over a fake engine (no QEMU): the sandbox supervisor, the registry, and the guest
        // routes' answers and refusals over a fake guest.
        .testTarget(
            name: "BhattiDaemonTests",
            dependencies: [
                "BhattiDaemon", "BhattiEngine", "BhattiStore", "BhattiCore", "BhattiAPI", "BhattiHTTP", "BhattiSystem", "BhattiImage",
            ],
            swiftSettings: strict),
        // The route table as data: the matcher and the client's paths, no server.
        .testTarget(name: "BhattiAPITests", dependencies: ["BhattiAPI"], swiftSettings: strict),
        // The E2B codecs as tables, with fixtures the e2b SDK 2.63.0 itself produced and parsed.
        .testTarget(name: "BhattiE2BTests", dependencies: ["BhattiE2B"], swiftSettings: strict),
        .testTarget(name: "BhattiCLITests", dependencies: ["BhattiCLI", "BhattiAPI", "BhattiHTTP"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "BhattiDaemon", "BhattiEngine", "BhattiCLI", "BhattiHTTP", "BhattiAPI", "BhattiCore", "BhattiStore", "BhattiSystem",
            ],
            swiftSettings: strict),
    ]
)

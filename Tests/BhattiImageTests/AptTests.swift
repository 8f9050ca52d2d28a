import Foundation
import Testing

@testable import BhattiImage

@Suite struct AptTests {
    @Test func mirrorFromDeb822SourcesSkipsSecurity() {
        let text = """
            Types: deb
            # http://snapshot.debian.org/archive/debian-security/20250520T000000Z
            URIs: http://deb.debian.org/debian-security
            Suites: bookworm-security
            Components: main

            Types: deb
            URIs: http://mirror.example/debian/
            Suites: bookworm bookworm-updates
            Components: main
            """
        #expect(AptSources.mirror(deb822: text, suite: "bookworm") == "http://mirror.example/debian")
        #expect(AptSources.mirror(deb822: text, suite: "trixie") == nil)
    }

    @Test func mirrorFromOneLineSources() {
        let text = """
            # comment
            deb-src http://src.example/debian bookworm main
            deb [arch=amd64 signed-by=/k.gpg] http://deb.example/debian bookworm main
            deb http://security.debian.org/debian-security bookworm-security main
            """
        #expect(AptSources.mirror(oneLine: text, suite: "bookworm") == "http://deb.example/debian")
    }

    @Test func mirrorFallsBackToDebDebianOrg() {
        let dir = TemporaryDirectory("etc-apt")
        #expect(AptSources.mirror(for: "bookworm", etc: dir.path) == "http://deb.debian.org/debian")
        dir.write("sources.list.d/debian.sources", "Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\n")
        #expect(AptSources.mirror(for: "bookworm", etc: dir.path) == "http://m.example/debian")
    }

    @Test func dependsFieldNames() {
        #expect(Deb822.packageNames("linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)") == ["linux-image-6.1.0-56-cloud-amd64"])
        #expect(
            Deb822.packageNames("kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120) | linux-initramfs-tool")
                == ["kmod", "linux-base", "initramfs-tools", "linux-initramfs-tool"])
    }

    /// A fake apt: `apt-cache show` answers from stanza files; `apt-get update` is logged and,
    /// like the real one, makes the "late" package known.
    static func fakeApt() -> TemporaryDirectory {
        let dir = TemporaryDirectory("apt")
        dir.write(
            "index/linux-image-cloud-amd64",
            """
            Package: linux-image-cloud-amd64
            Version: 6.1.192-2
            Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
            SHA256: 00be21c0

            """)
        dir.write(
            "index/linux-image-6.1.0-56-cloud-amd64",
            """
            Package: linux-image-6.1.0-56-cloud-amd64
            Version: 6.1.192-2
            Depends: kmod, linux-base (>= 4.3~)
            SHA256: e7d02b94

            """)
        dir.write("late/linux-image-late", "Package: linux-image-late\nVersion: 1\nSHA256: ff\n")
        dir.write(
            "bin/apt-cache",
            """
            #!/bin/sh
            # apt-cache show --no-all-versions NAME
            echo "$3" >> "\(dir.path)/apt-cache.log"
            f="\(dir.path)/index/$3"
            [ -f "$f" ] || { echo "E: No packages found" >&2; exit 100; }
            cat "$f"
            """, executable: true)
        dir.write(
            "bin/apt-get",
            """
            #!/bin/sh
            echo "$@" >> "\(dir.path)/apt-get.log"
            [ "$1" = update ] && cp "\(dir.path)"/late/* "\(dir.path)/index/"
            exit 0
            """, executable: true)
        return dir
    }

    @Test func metapackageResolvesToTheVersionedKernel() throws {
        let apt = Self.fakeApt()
        let runner = CommandRunner(tools: HostTools(searchPath: "\(apt.path)/bin:/usr/bin:/bin"))
        let kernel = try KernelStep.resolve("linux-image-cloud-amd64", runner: runner) { _ in }
        #expect(kernel == KernelPackage(name: "linux-image-6.1.0-56-cloud-amd64", version: "6.1.192-2", sha256: "e7d02b94"))
        #expect(!apt.exists("apt-get.log"))  // the index knew it: no apt-get update
    }

    @Test func resolutionIsCachedUntilTheAptIndexChanges() throws {
        let apt = Self.fakeApt()
        let runner = CommandRunner(tools: HostTools(searchPath: "\(apt.path)/bin:/usr/bin:/bin"))
        let cache = "\(apt.path)/resolution"
        var state = "lists-v1"
        func resolve() throws -> KernelPackage {
            try KernelStep.resolve("linux-image-cloud-amd64", runner: runner, cacheFile: cache, aptState: { state }) { _ in }
        }
        func calls() -> Int {
            ((try? String(contentsOfFile: "\(apt.path)/apt-cache.log", encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        let first = try resolve()
        #expect(calls() == 2)  // metapackage, then the versioned package
        #expect(try resolve() == first)
        #expect(calls() == 2)  // answered from the cache
        state = "lists-v2"  // apt-get update ran
        #expect(try resolve() == first)
        #expect(calls() == 4)
    }

    @Test func indexFingerprintChangesWithTheLists() {
        let dir = TemporaryDirectory("lists")
        let before = AptSources.indexFingerprint(lists: dir.path, etc: dir.path)
        dir.write("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages", "Package: x\n")
        #expect(AptSources.indexFingerprint(lists: dir.path, etc: dir.path) != before)
    }

    @Test func versionedNameResolvesToItself() throws {
        let apt = Self.fakeApt()
        let runner = CommandRunner(tools: HostTools(searchPath: "\(apt.path)/bin:/usr/bin:/bin"))
        let kernel = try KernelStep.resolve("linux-image-6.1.0-56-cloud-amd64", runner: runner) { _ in }
        #expect(kernel.name == "linux-image-6.1.0-56-cloud-amd64")
    }

    @Test func unknownPackageRunsAptGetUpdateOnceThenResolves() throws {
        let apt = Self.fakeApt()
        let runner = CommandRunner(tools: HostTools(searchPath: "\(apt.path)/bin:/usr/bin:/bin"))
        var lines: [String] = []
        let kernel = try KernelStep.resolve("linux-image-late", runner: runner) { lines.append($0) }
        #expect(kernel.name == "linux-image-late")
        #expect(try String(contentsOfFile: "\(apt.path)/apt-get.log", encoding: .utf8) == "update -q\n")
        #expect(lines.contains { $0.contains("running apt-get update") })
    }

    @Test func packageMissingEvenAfterUpdateIsNamed() {
        let apt = Self.fakeApt()
        let runner = CommandRunner(tools: HostTools(searchPath: "\(apt.path)/bin:/usr/bin:/bin"))
        #expect {
            _ = try KernelStep.resolve("linux-image-nope", runner: runner) { _ in }
        } throws: { error in
            "\(error)" == "Debian package linux-image-nope not found in the archive (checked after apt-get update)"
        }
    }

    @Test func failedCommandKeepsStatusAndOutput() {
        let runner = CommandRunner(tools: HostTools(searchPath: "/usr/bin:/bin"))
        #expect {
            try runner.output("sh", ["-c", "echo out; echo oops >&2; exit 3"])
        } throws: { error in
            guard case ImageError.commandFailed(let command, let status, let output) = error else { return false }
            return command == "sh -c 'echo out; echo oops >&2; exit 3'" && status == 3 && output == "oops\nout"
        }
    }
}

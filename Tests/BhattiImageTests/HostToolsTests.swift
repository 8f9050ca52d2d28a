import Foundation
import Testing

@testable import BhattiImage

@Suite struct HostToolsTests {
    @Test func emptySearchPathMissesEverythingAndNamesPackages() {
        let empty = TemporaryDirectory("path")
        let tools = HostTools(searchPath: empty.path)
        #expect(tools.missing() == HostTools.required.map(\.tool))
        #expect {
            try tools.check()
        } throws: { error in
            "\(error)" == "missing host tools: debootstrap, mkfs.ext4, qemu-img, apt-get, apt-cache, dpkg-deb, cc, "
                + "chroot, sha256sum (apt-get install debootstrap e2fsprogs qemu-utils apt dpkg gcc coreutils)"
        }
    }

    @Test func onlyTheAbsentToolsAreReported() {
        let dir = TemporaryDirectory("path")
        for tool in HostTools.required.map(\.tool) where tool != "debootstrap" && tool != "cc" {
            dir.write(tool, "#!/bin/sh\nexit 0\n", executable: true)
        }
        dir.write("cc-not-executable", "")
        let error = ImageError.missingTools(HostTools(searchPath: dir.path).missing())
        #expect("\(error)" == "missing host tools: debootstrap, cc (apt-get install debootstrap gcc)")
    }

    @Test func nonExecutableFileDoesNotCount() {
        let dir = TemporaryDirectory("path")
        dir.write("debootstrap", "#!/bin/sh\n")
        #expect(HostTools(searchPath: dir.path).locate("debootstrap") == nil)
    }

    @Test func ccWithoutStaticLibcIsReportedAsLibc6Dev() {
        let dir = TemporaryDirectory("path")
        for tool in HostTools.required.map(\.tool) where tool != "cc" {
            dir.write(tool, "#!/bin/sh\nexit 0\n", executable: true)
        }
        // A cc that cannot find libc.a prints the bare name, as gcc does.
        dir.write("cc", "#!/bin/sh\necho libc.a\n", executable: true)
        let missing = HostTools(searchPath: dir.path).missing()
        #expect(missing == ["libc.a"])
        #expect("\(ImageError.missingTools(missing))".hasSuffix("(apt-get install libc6-dev)"))
    }

    @Test func optionalToolsMapToTheirPackages() {
        #expect("\(ImageError.missingTools(["xz"]))" == "missing host tools: xz (apt-get install xz-utils)")
    }

    @Test func buildChecksToolsBeforeTouchingTheDisk() {
        let empty = TemporaryDirectory("path")
        let out = empty.path + "/image"
        var options = ImageBuildOptions(outputDirectory: out, loharPath: "/nonexistent", initSourcePath: "/nonexistent")
        options.toolSearchPath = empty.path
        #expect {
            _ = try ImageBuilder.build(options) { _ in }
        } throws: { error in
            guard case ImageError.missingTools(let tools) = error else { return false }
            return tools.contains("debootstrap")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func missingLoharIsNamed() {
        let dir = TemporaryDirectory("inputs")
        let options = ImageBuildOptions(
            outputDirectory: dir.path + "/image", loharPath: dir.path + "/lohar", initSourcePath: dir.path + "/init.c")
        #expect {
            _ = try ImageBuilder.build(options) { _ in }
        } throws: { error in
            // Unprivileged runs stop one check earlier, at the root check.
            if case ImageError.notRoot = error { return true }
            return "\(error)" == "lohar binary not found at \(dir.path)/lohar"
        }
    }
}

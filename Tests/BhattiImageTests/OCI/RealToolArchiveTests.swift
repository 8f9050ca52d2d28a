import Foundation
import Testing

@testable import BhattiImage

/// Archives made by real tools from Debian (umoci builds the image, skopeo writes both archive
/// formats) from a tree the test makes, without network. A missing tool fails the test:
/// scripts/install-deps.sh installs them.
@Suite("Image archives made by umoci and skopeo")
struct RealToolArchiveTests {
    private func run(_ tool: String, _ arguments: [String], in dir: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments.joined(separator: " ")) failed: \(text)")
    }

    @Test("two layers with a whiteout, in oci-archive and docker-archive form")
    func umociAndSkopeo() throws {
        let dir = TemporaryDirectory("realtool")
        dir.write("tree/etc/hostname", "base\n")
        dir.write("tree/etc/deleted", "bye\n")
        dir.write("tree/usr/bin/hello", "#!/bin/sh\necho hello\n", executable: true)
        try run("umoci", ["init", "--layout", "oci"], in: dir.path)
        try run("umoci", ["new", "--image", "oci:img"], in: dir.path)
        try run("umoci", ["insert", "--image", "oci:img", "tree", "/"], in: dir.path)
        try run("umoci", ["insert", "--image", "oci:img", "--whiteout", "/etc/deleted"], in: dir.path)
        try run(
            "umoci",
            ["config", "--image", "oci:img", "--config.env", "LANG=C.UTF-8", "--config.workingdir", "/srv", "--config.user", "1000:1000"],
            in: dir.path)
        try run("skopeo", ["copy", "oci:\(dir.path)/oci:img", "oci-archive:\(dir.path)/oci.tar"], in: dir.path)
        try run("skopeo", ["copy", "oci:\(dir.path)/oci:img", "docker-archive:\(dir.path)/docker.tar:img:latest"], in: dir.path)
        for (archive, format) in [("oci.tar", ImageArchiveFormat.oci), ("docker.tar", .docker)] {
            let root = "\(dir.path)/\(archive).rootfs"
            let image = try ImageArchive.importArchive(at: "\(dir.path)/\(archive)", into: root)
            #expect(image.format == format)
            #expect(image.diffIDs.count == 2)
            #expect(readText(root + "/etc/hostname") == "base\n")
            #expect(lstatOf(root + "/etc/deleted") == nil, "the whiteout hides the deleted file")
            #expect(((lstatOf(root + "/usr/bin/hello")?.st_mode ?? 0) & 0o111) != 0)
            #expect(image.defaults.env.contains("LANG=C.UTF-8"))
            #expect(image.defaults.workingDir == "/srv" && image.defaults.user == "1000:1000")
        }
    }
}

import BhattiAPI
import BhattiSystem
import Foundation
import Testing

/// The `dev` recipe's image on a real VM: Node.js and npm (a package installed from a local tarball,
/// no registry), a C compiler, and Python venvs. The image is built with `bhatti image build dev` into
/// a data directory under /tmp keyed by the recipe's bytes, once: a first build fetches packages from
/// the Debian mirror (minutes); after that the build only finds it up to date.
@Suite("dev image", .serialized)
struct DevImageTests {
    static let root = FileManager.default.currentDirectoryPath

    /// `<data-dir>/images/dev`, built (or checked up to date) by the CLI from `recipes/dev.json`.
    static func devImage() async throws -> String {
        let recipe = root + "/recipes/dev.json"
        let data = "/tmp/bhatti-recipe-dev-" + String(try sha256(recipe).prefix(16))
        let lohar = ProcessInfo.processInfo.environment["BHATTI_TEST_LOHAR"] ?? root + "/.build/static/release/lohar"
        let args = [
            "image", "build", "dev", "--data-dir", data, "--recipe", recipe, "--lohar", lohar, "--init-source", root + "/guest/init.c",
        ]
        let run = try await Blocking.run { try CLITests.run(args, socket: "/nonexistent", key: "", stdin: nil) }
        #expect(run.status == 0 && run.stdout == "image ready in \(data)/images/dev\n", "\(run)")
        return data + "/images/dev"
    }

    static func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, text.count >= 64 else { throw Failure("sha256sum \(path): \(text)") }
        return String(text.prefix(64))
    }

    @Test("bhatti image build dev: registry.json says recipe dev, public, with its packages; nothing staged left beside it")
    func registryFacts() async throws {
        let dir = try await Self.devImage()
        let text = String(decoding: try #require(FileManager.default.contents(atPath: dir + "/registry.json")), as: UTF8.self)
        #expect(text.contains(#""source" : "recipe dev""#) && text.contains(#""jq""#) && !text.contains("owner"), "\(text)")
        let images = (dir as NSString).deletingLastPathComponent
        let names = try FileManager.default.contentsOfDirectory(atPath: images).sorted()
        #expect(names == [".build-dev", "dev"], "only the image and the builder's staging directory: \(names)")
    }

    @Test("on the dev image: node --version, npm install from a local tarball, cc compiles and runs C, python3 -m venv")
    func devTools() async throws {
        let dir = try await Self.devImage()
        try await withDaemon(imageDirectory: dir) { d in
            _ = try await d.create("dev", memoryMB: 1024)
            func run(_ script: String) async throws -> String {
                let r = try await d.exec("dev", ["bash", "-ec", script], timeout: 600)
                #expect(r.exitCode == 0, "\(script)\n\(r.stdout)\n\(r.stderr)")
                return r.stdout
            }
            #expect(try await run("node --version").hasPrefix("v"))
            let npm = try await run(
                """
                mkdir -p /tmp/pkg/x /tmp/app && cd /tmp/pkg/x
                printf '{"name":"x","version":"1.0.0","main":"index.js"}' > package.json
                echo 'module.exports = () => "from x";' > index.js
                npm pack --silent
                cd /tmp/app && echo '{"name":"app","version":"0.0.0"}' > package.json
                npm install --offline --no-audit --no-fund /tmp/pkg/x/x-1.0.0.tgz >/dev/null
                node -e 'console.log(require("x")())'
                """)
            #expect(npm.hasSuffix("from x\n"), "\(npm)")
            let c = try await run(
                """
                cd /tmp && cat > hello.c <<'EOF'
                #include <stdio.h>
                int main(void) { printf("%d\\n", 6 * 7); return 0; }
                EOF
                cc -o hello hello.c && ./hello
                """)
            #expect(c == "42\n", "\(c)")
            let venv = try await run("python3 -m venv /tmp/venv && /tmp/venv/bin/python -c 'import sys; print(sys.prefix)'")
            #expect(venv == "/tmp/venv\n", "\(venv)")
        }
    }
}

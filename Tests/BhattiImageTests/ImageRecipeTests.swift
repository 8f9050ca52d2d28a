import Foundation
import Testing

@testable import BhattiImage

@Suite struct ImageRecipeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func parse(_ text: String) throws(RecipeError) -> ImageRecipe { try ImageRecipe.parse(Array(text.utf8), file: "r.json") }

    static let good: [(String, ImageRecipe)] = [
        (#"{"packages": ["bash"]}"#, ImageRecipe(packages: ["bash"])),
        (
            #"{"packages": ["nodejs", "g++", "libc6-dev"], "size_mb": 4096, "env": {"A": "1"}, "working_dir": "/w", "setup": ["true", "echo x"]}"#,
            ImageRecipe(
                packages: ["nodejs", "g++", "libc6-dev"], sizeMB: 4096, env: ["A": "1"], workingDir: "/w", setup: ["true", "echo x"])
        ),
        (#"{"packages": ["bash"], "size_mb": 64}"#, ImageRecipe(packages: ["bash"], sizeMB: 64)),
    ]

    @Test(arguments: good) func parses(_ text: String, _ expected: ImageRecipe) throws {
        #expect(try Self.parse(text) == expected)
    }

    /// Each bad recipe and a piece of the message it gets: every error names the file and the key.
    static let bad: [(String, String)] = [
        (#"["bash"]"#, "a recipe is a JSON object"),
        (#"{"packages": ["bash"],"#, "not valid JSON"),
        (#"{"packages": ["bash"], "size": 10}"#, #"unknown key "size""#),
        (#"{"packages": ["bash"], "Packages": ["x"]}"#, #"unknown key "Packages""#),
        (#"{}"#, #""packages" must be a list"#),
        (#"{"packages": "bash"}"#, #""packages" must be a list"#),
        (#"{"packages": []}"#, #""packages" is empty"#),
        (#"{"packages": ["Bash"]}"#, #""Bash" is not a Debian package name"#),
        (#"{"packages": ["a b"]}"#, #""a b" is not a Debian package name"#),
        (#"{"packages": ["bash"], "size_mb": "4096"}"#, #""size_mb" must be a whole number of MiB"#),
        (#"{"packages": ["bash"], "size_mb": 4096.5}"#, #""size_mb" must be a whole number of MiB"#),
        (#"{"packages": ["bash"], "size_mb": true}"#, #""size_mb" must be a whole number of MiB"#),
        (#"{"packages": ["bash"], "size_mb": 10}"#, "from 64 to 1048576, not 10"),
        (#"{"packages": ["bash"], "size_mb": -1}"#, "not -1"),
        (#"{"packages": ["bash"], "env": {"A": 1}}"#, #""env" must be an object of strings"#),
        (#"{"packages": ["bash"], "env": {"A=B": "1"}}"#, #""A=B" is not a variable name"#),
        (#"{"packages": ["bash"], "working_dir": "w"}"#, #""working_dir" must be an absolute path"#),
        (#"{"packages": ["bash"], "setup": "make"}"#, #""setup" must be a list of shell commands"#),
    ]

    @Test(arguments: bad) func refuses(_ text: String, _ message: String) {
        #expect {
            _ = try Self.parse(text)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("r.json: ") && text.contains(message)
        }
    }

    @Test func packageListOption() throws {
        #expect(try ImageRecipe.packageList("bash, git,,curl") == ["bash", "git", "curl"])
        #expect(throws: RecipeError(file: "--packages", message: "no package names")) { try ImageRecipe.packageList(" , ") }
        #expect(throws: RecipeError(file: "--packages", message: "\"Git\" is not a Debian package name")) {
            try ImageRecipe.packageList("bash,Git")
        }
    }

    /// The shipped recipes parse; `minimal` is the builder's default package list (today's image).
    @Test func shippedRecipes() throws {
        func load(_ name: String) throws -> ImageRecipe {
            let path = "\(Self.repository)/recipes/\(name).json"
            return try ImageRecipe.parse(Array(try #require(FileManager.default.contents(atPath: path))), file: path)
        }
        #expect(try load("minimal") == ImageRecipe(packages: ImageBuildOptions.defaultPackages))
        let dev = try load("dev")
        for package in ImageBuildOptions.defaultPackages + [
            "nodejs", "npm", "build-essential", "python3-pip", "python3-venv", "git", "curl", "jq", "ripgrep", "unzip", "openssh-client",
        ] {
            // debootstrap's resolver installs simple trees; npm's goes through apt-get in setup.
            #expect(dev.packages.contains(package) || dev.setup.contains { $0.contains(" \(package)") }, "dev lacks \(package)")
        }
        #expect((dev.sizeMB ?? 0) >= 2048)
    }

    /// A recipe's setup commands are tree inputs (a changed one rebuilds the tree); without any the
    /// key is what it always was, so images built before recipes stay up to date.
    @Test func setupCommandsAreTreeInputs() {
        var options = ImageBuildOptions(outputDirectory: "/x", loharPath: "/l", initSourcePath: "/i")
        let plain = RootfsStep.treeKey(options, mirror: "m")
        #expect(!plain.contains("setup"))
        ImageRecipe(packages: options.packages, setup: ["echo a"]).apply(to: &options)
        let one = RootfsStep.treeKey(options, mirror: "m")
        options.setupCommands = ["echo b"]
        #expect(one != plain && one.hasPrefix(plain) && one != RootfsStep.treeKey(options, mirror: "m"))
    }

    @Test func applySetsPackagesSizeAndSetup() {
        var options = ImageBuildOptions(outputDirectory: "/x", loharPath: "/l", initSourcePath: "/i")
        ImageRecipe(packages: ["bash", "jq"], sizeMB: 4096, setup: ["true"]).apply(to: &options)
        #expect(options.packages == ["bash", "jq"] && options.rootfsSize == 4096 << 20 && options.setupCommands == ["true"])
    }
}

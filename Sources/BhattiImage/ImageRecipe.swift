import Foundation

/// What an image is made of, from a recipe file (`recipes/*.json`):
///
/// ```json
/// {
///   "packages": ["bash", "git", "nodejs"],
///   "size_mb": 4096,
///   "env": {"NODE_ENV": "development"},
///   "working_dir": "/workspace",
///   "setup": ["npm config --global set fund false"]
/// }
/// ```
///
/// `packages` (required, non-empty): Debian packages debootstrap adds to `minbase`. `size_mb`: the
/// root file system's size (default: the tree's size + 30 % + 256 MiB). `env` and `working_dir`: what
/// every command in a sandbox of the image starts with. `setup`: shell commands run as root in the
/// image's chroot after the packages are installed, in order; one failing fails the build. Any other
/// key is an error, so a misspelt one never goes unnoticed.
public struct ImageRecipe: Sendable, Equatable {
    public var packages: [String]
    public var sizeMB: Int?
    public var env: [String: String]
    public var workingDir: String?
    public var setup: [String]

    public init(
        packages: [String], sizeMB: Int? = nil, env: [String: String] = [:], workingDir: String? = nil, setup: [String] = []
    ) {
        self.packages = packages
        self.sizeMB = sizeMB
        self.env = env
        self.workingDir = workingDir
        self.setup = setup
    }

    /// The keys a recipe may have.
    public static let keys = ["packages", "size_mb", "env", "working_dir", "setup"]
    /// The smallest root file system a recipe may ask for, and the largest (1 TiB).
    public static let sizeRange = 64...(1 << 20)

    /// Parses a recipe file's bytes; `file` names it in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(RecipeError) -> ImageRecipe {
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw RecipeError(file: file, message: "a recipe is a JSON object")
            }
            object = o
        } catch let e as RecipeError {
            throw e
        } catch {
            throw RecipeError(file: file, message: "not valid JSON: \(error.localizedDescription)")
        }
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw RecipeError(file: file, message: "unknown key \"\(unknown)\" (a recipe has \(keys.joined(separator: ", ")))")
        }
        // Foundation's decoder calls 4096.5 for an Int corrupt data, without saying where.
        if let size = object["size_mb"] as? Double, size != size.rounded() {
            throw RecipeError(file: file, message: Raw.expected("size_mb") + ", not \(size)")
        }
        // Types through JSONDecoder: it refuses 4096.5 or true for a whole number, which NSNumber would not.
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: Data(bytes)) } catch let DecodingError.typeMismatch(_, context) {
            throw RecipeError(file: file, message: Raw.expected(context.codingPath.first?.stringValue ?? ""))
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw RecipeError(file: file, message: Raw.expected(context.codingPath.first?.stringValue ?? ""))
        } catch let DecodingError.valueNotFound(_, context) {
            throw RecipeError(file: file, message: Raw.expected(context.codingPath.first?.stringValue ?? ""))
        } catch {
            throw RecipeError(file: file, message: "cannot read: \(error)")
        }
        guard let packages = raw.packages else { throw RecipeError(file: file, message: Raw.expected("packages")) }
        guard !packages.isEmpty else { throw RecipeError(file: file, message: "\"packages\" is empty") }
        if let bad = packages.first(where: { !isPackageName($0) }) {
            throw RecipeError(file: file, message: "\"packages\": \"\(bad)\" is not a Debian package name")
        }
        var recipe = ImageRecipe(packages: packages, env: raw.env ?? [:], setup: raw.setup ?? [])
        if let mb = raw.size_mb {
            guard sizeRange.contains(mb) else { throw RecipeError(file: file, message: Raw.expected("size_mb") + ", not \(mb)") }
            recipe.sizeMB = mb
        }
        if let bad = recipe.env.keys.sorted().first(where: { $0.isEmpty || $0.contains("=") }) {
            throw RecipeError(file: file, message: "\"env\": \"\(bad)\" is not a variable name")
        }
        if let dir = raw.working_dir {
            guard dir.hasPrefix("/") else { throw RecipeError(file: file, message: Raw.expected("working_dir")) }
            recipe.workingDir = dir
        }
        return recipe
    }

    private struct Raw: Decodable {
        var packages: [String]?
        var size_mb: Int?
        var env: [String: String]?
        var working_dir: String?
        var setup: [String]?

        static func expected(_ key: String) -> String {
            switch key {
            case "packages": return "\"packages\" must be a list of Debian package names"
            case "size_mb": return "\"size_mb\" must be a whole number of MiB from \(sizeRange.lowerBound) to \(sizeRange.upperBound)"
            case "env": return "\"env\" must be an object of strings"
            case "working_dir": return "\"working_dir\" must be an absolute path"
            case "setup": return "\"setup\" must be a list of shell commands"
            default: return "\"\(key)\" has the wrong type"
            }
        }
    }

    /// Parses `a,b,c` (a `--packages` value): names separated by commas, blanks ignored.
    public static func packageList(_ value: String) throws(RecipeError) -> [String] {
        let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw RecipeError(file: "--packages", message: "no package names") }
        if let bad = names.first(where: { !isPackageName($0) }) {
            throw RecipeError(file: "--packages", message: "\"\(bad)\" is not a Debian package name")
        }
        return names
    }

    /// Debian policy: lower-case letters, digits, `+ - .`, at least two characters, starting alphanumeric.
    static func isPackageName(_ name: String) -> Bool {
        guard name.count >= 2, let first = name.unicodeScalars.first, first.isASCII, CharacterSet.alphanumerics.contains(first)
        else { return false }
        return name.unicodeScalars.allSatisfy { c in
            ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "+" || c == "-" || c == "."
        }
    }

    /// The builder's options with this recipe's packages, size and setup commands.
    public func apply(to options: inout ImageBuildOptions) {
        options.packages = packages
        options.rootfsSize = sizeMB.map { UInt64($0) << 20 }
        options.setupCommands = setup
    }
}

/// A recipe that cannot be used: the file (or option) and what is wrong with it.
public struct RecipeError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}

import Foundation

/// The image files each VM kept on disk was booted from, read from its `vm.json`: every sandbox, named
/// snapshot and template (staging ones included). A pinned base, kernel or initramfs that none of
/// them names is no longer needed by anything this engine could restore, clone or reboot.
public struct ImageUser: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case sandbox, snapshot, template
    }
    public var kind: Kind
    /// The directory's own name: a sandbox id, a snapshot id, a template key.
    public var name: String
    /// Kernel, initramfs and base image paths.
    public var files: [String]

    public init(kind: Kind, name: String, files: [String]) {
        self.kind = kind
        self.name = name
        self.files = files
    }

    /// Every VM directory under `dataDirectory` with a readable record. A directory whose record
    /// cannot be read names no files (a create that never got as far as booting).
    public static func all(dataDirectory: String) -> [ImageUser] {
        var users: [ImageUser] = []
        for (kind, folder) in [(Kind.sandbox, "sandboxes"), (.snapshot, "snapshots"), (.template, "templates")] {
            let root = dataDirectory + "/" + folder
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
                guard let record = try? VMRecord.read(VMPaths(directory: root + "/" + name).record) else { continue }
                users.append(ImageUser(kind: kind, name: name, files: [record.kernel, record.initramfs, record.baseImage]))
            }
        }
        return users
    }
}

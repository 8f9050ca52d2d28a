import Foundation

/// Which pinned files under an image's `bases/` may go: those no VM on disk names (sandboxes,
/// snapshots, templates: `ImageUser`), that are not a pin of the image's current files (the next boot
/// links them again anyway), and that were not pinned a moment ago (a boot links its files before it
/// writes the `vm.json` that names them; a link sets the file's change time, so `grace` covers that gap).
struct BaseCollection {
    struct Pinned: Sendable, Equatable {
        var path: String
        /// The inode's change time: when it was last linked.
        var changed: Date
    }

    static func unused(_ pinned: [Pinned], referenced: Set<String>, currentKeys: Set<String>, now: Date, grace: TimeInterval) -> [String] {
        pinned.filter { file in
            let name = (file.path as NSString).lastPathComponent
            let key = name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
            return !referenced.contains(file.path) && !currentKeys.contains(key) && now.timeIntervalSince(file.changed) >= grace
        }.map(\.path)
    }
}

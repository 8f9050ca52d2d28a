import Foundation

extension NetworkManager {
    /// Deletes the taps in this daemon's namespaces whose sandbox is not in `ids` (left by a daemon
    /// killed between making a tap and recording or removing its sandbox); returns them as `ns/tap`.
    public func removeStrayTaps(keeping ids: Set<String>) async -> [String] {
        let wanted = Set(ids.map(Self.tapName))
        var removed: [String] = []
        for index in existing() {
            let ns = namespace(index: index)
            guard let links = try? await toolOutput("ip", ["-n", ns, "-o", "link", "show"]) else { continue }
            for name in Self.tapNames(inLinkList: links) where !wanted.contains(name) {
                guard (try? await runTool("ip", ["-n", ns, "link", "del", name])) != nil else { continue }
                removed.append(ns + "/" + name)
            }
        }
        return removed
    }

    /// The names in `ip -o link show` output that have the form of a sandbox's tap (`t` + 12 hex).
    static func tapNames(inLinkList text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            // "7: t0123456789ab: <BROADCAST,…> mtu 1500 … master br0 …"
            let fields = line.split(separator: ":", maxSplits: 2)
            guard fields.count >= 2 else { return nil }
            let name = fields[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init) ?? ""
            guard name.count == 13, name.first == "t", name.dropFirst().allSatisfy(\.isHexDigit) else { return nil }
            return name
        }
    }
}

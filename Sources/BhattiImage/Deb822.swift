import Foundation
import Glibc

/// Debian's "Field: value" stanza format: `apt-cache show`, `/var/lib/dpkg/status`, `.sources` files.
enum Deb822 {
    /// Stanzas separated by blank lines; continuation lines (leading space or tab) are appended to
    /// the previous field with a newline; `#` comment lines are skipped.
    static func parse(_ text: String) -> [[String: String]] {
        var stanzas: [[String: String]] = []
        var current: [String: String] = [:]
        var lastField: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !current.isEmpty { stanzas.append(current) }
                current = [:]
                lastField = nil
            } else if line.hasPrefix("#") {
                continue
            } else if line.first == " " || line.first == "\t" {
                if let field = lastField {
                    current[field, default: ""] += "\n" + line.trimmingCharacters(in: .whitespaces)
                }
            } else if let colon = line.firstIndex(of: ":") {
                let field = String(line[..<colon])
                current[field] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                lastField = field
            }
        }
        if !current.isEmpty { stanzas.append(current) }
        return stanzas
    }

    /// Package names in a Depends-style field, alternatives and version constraints dropped:
    /// "a (= 1), b | c" → ["a", "b", "c"].
    static func packageNames(_ field: String) -> [String] {
        field.split(whereSeparator: { $0 == "," || $0 == "|" }).compactMap { item in
            item.split(separator: " ").first.map { String($0.split(separator: ":").first ?? $0) }
        }
    }
}

/// Where debootstrap fetches from when the caller names no mirror.
enum AptSources {
    static let fallbackMirror = "http://deb.debian.org/debian"

    /// The first non-security archive URI that serves `suite` in the host's apt configuration
    /// (deb822 `.sources` files, then one-line `sources.list`), or deb.debian.org.
    static func mirror(for suite: String, etc: String = "/etc/apt") -> String {
        let dir = "\(etc)/sources.list.d"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        for file in files where file.hasSuffix(".sources") {
            guard let text = try? String(contentsOfFile: "\(dir)/\(file)", encoding: .utf8) else { continue }
            if let uri = mirror(deb822: text, suite: suite) { return uri }
        }
        if let text = try? String(contentsOfFile: "\(etc)/sources.list", encoding: .utf8),
            let uri = mirror(oneLine: text, suite: suite)
        {
            return uri
        }
        return fallbackMirror
    }

    /// From a deb822 `.sources` file.
    static func mirror(deb822 text: String, suite: String) -> String? {
        for stanza in Deb822.parse(text) {
            let types = (stanza["Types"] ?? "").split(whereSeparator: \.isWhitespace)
            let suites = (stanza["Suites"] ?? "").split(whereSeparator: \.isWhitespace)
            guard types.contains("deb"), suites.contains(Substring(suite)), stanza["Enabled"] != "no" else { continue }
            let uris = (stanza["URIs"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
            if let uri = uris.first(where: { !$0.contains("security") }) { return trimSlash(uri) }
        }
        return nil
    }

    /// From one-line `deb [options] URI suite components` entries.
    static func mirror(oneLine text: String, suite: String) -> String? {
        for line in text.split(separator: "\n") {
            var words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard words.first == "deb" else { continue }
            words.removeFirst()
            if words.first?.hasPrefix("[") == true {
                while let w = words.first, !w.hasSuffix("]") { words.removeFirst() }
                if !words.isEmpty { words.removeFirst() }
            }
            if words.count >= 2, words[1] == suite, !words[0].contains("security") { return trimSlash(words[0]) }
        }
        return nil
    }

    /// Names, sizes and modification times of apt's index files and pin preferences: equal
    /// fingerprints mean `apt-cache` would answer the same (one line, no hashing: a few stat calls).
    static func indexFingerprint(lists: String = "/var/lib/apt/lists", etc: String = "/etc/apt") -> String {
        var parts: [String] = []
        for dir in [lists, "\(etc)/preferences.d"] {
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                var st = stat()
                guard stat("\(dir)/\(name)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                parts.append("\(name):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
            }
        }
        var st = stat()
        if stat("\(etc)/preferences", &st) == 0 { parts.append("preferences:\(st.st_size):\(st.st_mtim.tv_sec)") }
        return parts.joined(separator: " ")
    }

    private static func trimSlash(_ uri: String) -> String {
        uri.hasSuffix("/") ? String(uri.dropLast()) : uri
    }
}

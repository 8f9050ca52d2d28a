import Foundation

/// The host's resolvers, as `/etc/resolv.conf` names them.
public enum ResolvConf {
    /// The IPv4 `nameserver`s in order, without repeats, loopback ones included (systemd-resolved's
    /// `127.0.0.53`): the per-user responders forward from the host's namespace, where those answer.
    /// IPv6 ones are left out (the responders forward over IPv4).
    public static func nameServers(_ text: String) -> [String] {
        var out: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.prefix { $0 != "#" && $0 != ";" }
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver", let a = IPv4.parse(words[1]) else { continue }
            let server = IPv4.format(a)
            if !out.contains(server) { out.append(server) }
        }
        return out
    }

    /// `nameServers` of the file at `path`; none when it cannot be read.
    public static func nameServers(file path: String) -> [String] {
        nameServers((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }
}

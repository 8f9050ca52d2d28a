import BhattiSystem
import Foundation

/// `~/.bhatti/config.json`, where the CLI finds its daemon and key: written by the daemon's first
/// start and by `bhatti setup`, read by every command.
public enum ClientConfig {
    /// Writes `<home>/.bhatti/config.json` (dir 0700, file 0600, atomically); returns its path.
    public static func write(url: String, key: String, home: String) throws -> String {
        let dir = home + "/.bhatti"
        let path = dir + "/config.json"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let contents = "{\n  \"url\": \"\(jsonEscaped(url))\",\n  \"token\": \"\(jsonEscaped(key))\"\n}\n"
        try AtomicFile.write(Array(contents.utf8), to: path, mode: 0o600)
        return path
    }
}

/// An OCI image config's `User` (`name`, `uid`, `name:group`, `uid:gid`, any mix) resolved against an
/// image's `/etc/passwd` and `/etc/group` text, the way container runtimes do: a name must be listed;
/// a bare number need not be, and then runs with group 0 and home `/`.
public struct UserSpec: Sendable, Equatable {
    public var uid: Int32
    public var gid: Int32
    public var name: String?
    public var home: String

    public init(uid: Int32, gid: Int32, name: String?, home: String) {
        self.uid = uid
        self.gid = gid
        self.name = name
        self.home = home
    }

    /// Why a `User` does not resolve.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case empty
        case unknownUser(String)
        case unknownGroup(String)
        case outOfRange(String)

        public var description: String {
            switch self {
            case .empty: "the user is empty"
            case .unknownUser(let name): "user \(name) is not in the image's /etc/passwd"
            case .unknownGroup(let name): "group \(name) is not in the image's /etc/group"
            case .outOfRange(let text): "\(text) is not a uid or gid (0 to 2147483647)"
            }
        }
    }

    /// Resolves `spec` against the two files' contents.
    public static func resolve(_ spec: String, passwd: String, group: String) throws(Failure) -> UserSpec {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let userPart = parts.first, !userPart.isEmpty else { throw .empty }
        let users = entries(passwd, fields: 7)
        var resolved: UserSpec
        if let row = users.first(where: { $0[0] == userPart }), let uid = Int32(row[2]), let gid = Int32(row[3]) {
            resolved = UserSpec(uid: uid, gid: gid, name: row[0], home: row[5].isEmpty ? "/" : row[5])
        } else if let uid = try number(userPart) {
            let row = users.first { Int32($0[2]) == uid }
            resolved = UserSpec(
                uid: uid, gid: row.flatMap { Int32($0[3]) } ?? 0, name: row?[0], home: row.map { $0[5].isEmpty ? "/" : $0[5] } ?? "/")
        } else {
            throw .unknownUser(userPart)
        }
        if parts.count == 2 {
            let groupPart = parts[1]
            guard !groupPart.isEmpty else { throw .empty }
            if let row = entries(group, fields: 3).first(where: { $0[0] == groupPart }), let gid = Int32(row[2]) {
                resolved.gid = gid
            } else if let gid = try number(groupPart) {
                resolved.gid = gid
            } else {
                throw .unknownGroup(groupPart)
            }
        }
        return resolved
    }

    /// A decimal id; nil for a name, a failure for digits that are not a valid id.
    private static func number(_ text: String) throws(Failure) -> Int32? {
        guard text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        guard let value = Int32(text) else { throw .outOfRange(text) }
        return value
    }

    /// The colon-separated rows with at least `fields` fields; comments and short lines are skipped.
    private static func entries(_ text: String, fields: Int) -> [[String]] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let row = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            return row.count >= fields ? row : nil
        }
    }
}

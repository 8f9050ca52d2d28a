import BhattiSystem
import BhattiWire

extension UserSpec {
    /// `spec` against this guest's own /etc/passwd and /etc/group, read at each call: a user added
    /// since the image was made (`useradd` in this sandbox, or in the one it was forked from) is found.
    static func inGuest(_ spec: String) throws(UserSpec.Failure) -> UserSpec {
        func text(_ path: String) -> String { (try? readWholeFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        return try UserSpec.resolve(spec, passwd: text("/etc/passwd"), group: text("/etc/group"))
    }
}

/// Who one process runs as: the user its request names, or the sandbox's.
struct CommandUser: Sendable {
    /// The request's user, resolved; nil runs as the sandbox's user with its environment.
    let named: UserSpec?
    /// The ids to spawn with; nil keeps the agent's own (tests that are not root).
    let ids: (uid: Int32, gid: Int32)?

    /// The ids `bh_spawn` drops to: the user's primary group is its only group.
    var spawnUser: (uid: Int32, gid: Int32, groups: [UInt32])? { ids.map { ($0.uid, $0.gid, [UInt32(bitPattern: $0.gid)]) } }
}

extension AgentState {
    /// The user a request names (`user`, resolved now in this guest), or the sandbox's when it names
    /// none. An unknown user is the caller's mistake: `bad_request` naming it.
    func commandUser(_ requested: String?) throws(WireErrorMessage) -> CommandUser {
        guard let requested else { return CommandUser(named: nil, ids: user) }
        do {
            let spec = try UserSpec.inGuest(requested)
            return CommandUser(named: spec, ids: (spec.uid, spec.gid))
        } catch {
            throw WireErrorMessage(code: .badRequest, message: "cannot run as \(requested): \(error)")
        }
    }
}

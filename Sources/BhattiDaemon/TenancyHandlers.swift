import BhattiAPI
import BhattiCore
import BhattiHTTP
import BhattiStore
import Foundation

/// `/v1/users` (admin only), `/v1/secrets` (the caller's own) and `/v1/events` (admin only), each
/// called with its matched `APIRoute`.
struct TenancyHandlers {
    let service: SandboxService
    let users: UserDirectory
    let secrets: SecretBox

    private var store: SandboxStore { service.store }
    private var events: EventLog { service.events }

    // MARK: users

    /// The users routes only (`APIHandler` dispatches the others elsewhere).
    func users(_ request: HTTPRequest, _ route: APIRoute, caller: Caller) async throws -> HTTPResponse {
        guard caller.isAdmin else { throw BhattiError(.permissionDenied, "only the admin may manage users") }
        switch route {
        case .users:
            var out: [UserDTO] = []
            for user in try await users.list() { out.append(try await dto(user)) }
            return try json(out)
        case .createUser:
            let body = try decodeBody(CreateUserRequest.self, from: request, known: CreateUserRequest.knownFields)
            let (user, key) = try await users.create(
                name: body.name, maxSandboxes: body.maxSandboxes, maxCPUs: body.maxCPUs, maxMemoryMB: body.maxMemoryMB,
                ioLimits: body.ioLimits)
            events.record("user.created", user: user.id, detail: "name=\(user.name) by=\(caller.user.name)")
            return try json(UserKeyDTO(user: try await dto(user), apiKey: key), status: 201)
        case .editUser(let name):
            let body = try decodeBody(UpdateUserRequest.self, from: request, known: UpdateUserRequest.knownFields)
            let user = try await users.setIOLimits(name: name, body.ioLimits)
            try await service.applyNetworkLimit(owner: user.id)
            events.record("user.limits_changed", user: user.id, detail: "name=\(user.name) by=\(caller.user.name)")
            return try json(try await dto(user))
        case .deleteUser(let name):
            try await deleteUser(name, force: request.query["force"]?.first == "true", by: caller)
            return try json(StatusDTO(status: "deleted"))
        case .rotateKey(let name):
            let (user, key) = try await users.rotateKey(name: name)
            events.record("user.key_rotated", user: user.id, detail: "name=\(user.name) by=\(caller.user.name)")
            return try json(UserKeyDTO(user: try await dto(user), apiKey: key))
        default:
            throw BhattiError(.internal, "not a users route: \(route)")
        }
    }

    /// A user who owns sandboxes or snapshots is refused unless `force`, which destroys them first.
    private func deleteUser(_ name: String, force: Bool, by caller: Caller) async throws {
        let user = try await users.user(named: name)
        guard !user.isAdmin else { throw BhattiError(.invalidArgument, "the admin user cannot be deleted") }
        let sandboxes = try await service.list(owner: user.id)
        let snapshots = try await service.snapshots(owner: user.id)
        if !force, !sandboxes.isEmpty || !snapshots.isEmpty {
            throw BhattiError(
                .invalidState,
                "user \(name) owns \(sandboxes.count) sandbox(es) and \(snapshots.count) snapshot(s); destroy them or pass --force")
        }
        for sandbox in sandboxes { try await service.destroy(SandboxRef(sandbox.id.rawValue, owner: user.id)) }
        for snapshot in snapshots { try await service.deleteSnapshot(snapshot.name, owner: user.id) }
        try await users.delete(name: name)
        events.record("user.deleted", user: user.id, detail: "name=\(name) by=\(caller.user.name) destroyed=\(sandboxes.count)")
    }

    private func dto(_ user: UserRecord) async throws -> UserDTO {
        UserDTO(
            id: user.id, name: user.name, isAdmin: user.isAdmin, maxSandboxes: user.maxSandboxes, maxCPUs: user.maxCPUs,
            maxMemoryMB: user.maxMemoryMB, ioLimits: user.ioLimits, sandboxes: try await store.count(ownedBy: user.id),
            createdAt: iso8601(user.createdAt))
    }

    // MARK: secrets

    /// The secrets routes only.
    func secrets(_ request: HTTPRequest, _ route: APIRoute, caller: Caller) async throws -> HTTPResponse {
        switch route {
        case .secrets:
            return try json(try await store.secrets(userID: caller.owner).map(Self.dto))
        case .setSecret:
            let body = try decodeBody(SetSecretRequest.self, from: request, known: SetSecretRequest.knownFields)
            let record = try await secrets.set(owner: caller.owner, name: body.name, value: body.value)
            events.record("secret.set", user: caller.owner, detail: "name=\(body.name)")
            return try json(Self.dto(record), status: 201)
        case .deleteSecret(let name):
            try await store.deleteSecret(userID: caller.owner, name: name)
            events.record("secret.deleted", user: caller.owner, detail: "name=\(name)")
            return try json(StatusDTO(status: "deleted"))
        default:
            throw BhattiError(.internal, "not a secrets route: \(route)")
        }
    }

    static func dto(_ s: SecretRecord) -> SecretDTO {
        SecretDTO(name: s.name, createdAt: iso8601(s.createdAt), updatedAt: iso8601(s.updatedAt))
    }

    // MARK: events

    /// `GET /v1/events?type=&user=&sandbox=&since=&limit=`: `since` is a duration back from now (`24h`)
    /// or an ISO 8601 time.
    func events(_ request: HTTPRequest, caller: Caller) async throws -> HTTPResponse {
        guard caller.isAdmin else { throw BhattiError(.permissionDenied, "only the admin may read the event log") }
        let q = { (name: String) in request.query[name]?.first }
        var filter = EventFilter(kindPrefix: q("type"))
        if let name = q("user") {
            guard let user = try await store.user(named: name) else {
                throw BhattiError(.notFound, "user \(BhattiError.shortened(name)) not found")
            }
            filter.userID = user.id
        }
        if let sandbox = q("sandbox") { filter.sandboxID = try await sandboxID(sandbox, user: filter.userID) }
        if let since = q("since") {
            if let back = try? parseDuration(since, flag: "since") {
                filter.since = Date().addingTimeInterval(-Double(back.components.seconds) - Double(back.components.attoseconds) / 1e18)
            } else if let date = parseISO8601(since) {
                filter.since = date
            } else {
                throw BhattiError(
                    .invalidArgument, "since must be a duration like 24h or an ISO 8601 time, got \(BhattiError.quoted(since))")
            }
        }
        if let limit = q("limit") {
            guard let n = Int(limit), (1...1000).contains(n) else { throw BhattiError(.invalidArgument, "limit must be 1-1000") }
            filter.limit = n
        }
        await events.flushed()
        var names: [String: String] = [:]
        for user in try await users.list() { names[user.id] = user.name }
        let found = try await store.events(matching: filter)
        return try json(
            found.map {
                EventDTO(
                    seq: $0.seq, at: iso8601Millis($0.at), type: $0.kind, user: $0.userID.map { names[$0] ?? $0 },
                    sandboxID: $0.sandboxID?.rawValue, detail: $0.detail)
            })
    }
}

extension TenancyHandlers {
    /// `?sandbox=` of the event log: a sandbox's id (a destroyed one's too), or the name of a live one;
    /// with `user=`, that user's. A name several users use is refused: it would silently pick one.
    func sandboxID(_ key: String, user: String?) async throws -> SandboxID {
        let named = try await store.list().filter { $0.name.rawValue == key && (user == nil || $0.userID == user) }
        if named.count > 1 {
            throw BhattiError(.invalidArgument, "\(named.count) users have a sandbox named \(key): give its id, or user= as well")
        }
        if let record = named.first { return record.id }
        if let id = SandboxID(rawValue: key) { return id }
        throw BhattiError(.notFound, "sandbox \(key) not found (a destroyed sandbox's events are found by its id)")
    }
}

/// `2026-11-28T03:00:00Z` or with milliseconds.
func parseISO8601(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    if let d = formatter.date(from: text) { return d }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}

import BhattiCore
import BhattiE2B
import BhattiHTTP
import BhattiStore
import Foundation

/// The E2B control plane (`E2B_API_URL=<daemon>/e2b`) in bhatti's terms: a sandbox is a bhatti
/// sandbox of the caller (`X-API-Key` is a bhatti key), its id bhatti's id, its template an image.
struct E2BControlPlane {
    let service: SandboxService
    let tokens: EnvdTokens
    let deadlines: E2BDeadlines
    /// Charges a fork's sandboxes past the first to the caller's `create` bucket.
    let gate: Gate
    let metrics: E2BMetrics
    /// What `get_host(port)` names after `<port>-<id>.`: the public proxy's (`PreviewURLs.e2bDomain`).
    let domain: String?

    /// E2B's default template; it boots the daemon's default image.
    static let defaultTemplate = "base"

    func handle(_ request: HTTPRequest, path: [Substring], caller: Caller) async throws -> HTTPResponse {
        // `/v2/…` and `/…` differ in request and response details the models absorb.
        var parts = path.map(String.init)
        if parts.first == "v2" { parts.removeFirst() }
        switch (request.method, parts.first, parts.count) {
        case ("GET", "snapshots", 1): return try await listSnapshots(request, caller: caller)
        case ("DELETE", "templates", 2): return try await deleteSnapshot(parts[1], caller: caller)
        default: break
        }
        guard parts.first == "sandboxes", parts.count <= 3 else { throw Self.unsupported(request) }
        let id = parts.count > 1 ? parts[1] : nil
        let action = parts.count > 2 ? parts[2] : nil
        let ref = { (id: String) in SandboxRef(id, owner: caller.owner) }
        switch (request.method, id, action) {
        case ("POST", nil, nil):
            return try await create(request, caller: caller)
        case ("GET", nil, nil):
            return try await list(request, caller: caller)
        case ("GET", let id?, nil):
            return try reply(try await detail(try await service.get(ref(id))))
        case ("DELETE", let id?, nil):
            let record = try await service.get(ref(id))
            try await service.destroy(ref(id))
            try await deadlines.clear(record.id.rawValue)
            return HTTPResponse(status: 204)
        case ("POST", let id?, "timeout"?):
            let body = try Self.decode(SandboxTimeoutRequest.self, request)
            let record = try await service.get(ref(id))
            try await deadlines.set(record.id.rawValue, owner: caller.owner, seconds: body.timeout)
            return HTTPResponse(status: 204)
        case ("POST", let id?, "connect"?):
            // Waking is what any call does; connect answers 201 when it had to resume, as E2B does.
            let body = request.body.isEmpty ? nil : try Self.decode(ConnectSandbox.self, request)
            if body?.memory == false {
                throw E2BError(400, "resuming by a reboot (on_resume=\"reboot\") is not supported by bhatti: a resume keeps memory")
            }
            let before = try await service.get(ref(id))
            let record = before.state == .hot ? before : try await service.start(ref(id))
            try await deadlines.set(
                record.id.rawValue, owner: caller.owner, seconds: body?.timeout ?? Self.defaultTimeout, extendOnly: true)
            return try reply(sandbox(record), status: before.state == .hot ? 200 : 201)
        case ("POST", let id?, "resume"?):
            let body = request.body.isEmpty ? nil : try Self.decode(ResumedSandbox.self, request)
            // The deprecated resume may change what the timeout does, as at create.
            let action = try body?.autoPause.map { try Self.timeoutAction(autoPause: $0, memory: body?.memory) }
            let record = try await service.start(ref(id))
            if let action { try await service.store.setE2BTimeoutAction(record.id, action) }
            try await deadlines.set(
                record.id.rawValue, owner: caller.owner, seconds: body?.timeout ?? Self.defaultTimeout, extendOnly: true)
            return try reply(sandbox(record), status: 201)
        case ("POST", let id?, "pause"?):
            let body = request.body.isEmpty ? nil : try Self.decode(SandboxPauseRequest.self, request)
            do { try LifecyclePolicy.pause(memory: body?.memory) } catch { throw E2BError(400, "\(error)") }
            // Taken through QEMU, a pause does not ask the guest agent, so it cannot promise to
            // refuse when the agent is stuck: refused rather than promised.
            if body?.requireHealthyGuest == true {
                throw E2BError(400, "a strict pause (requireHealthyGuest) is not supported by bhatti yet")
            }
            let record = try await service.get(ref(id))
            guard record.state != .cold else { throw E2BError(409, "sandbox \(record.id) is already paused") }
            try await Self.pause(ref(id), service: service, deadlines: deadlines)
            return HTTPResponse(status: 204)
        case ("POST", let id?, "snapshots"?):
            return try await createSnapshot(request, sandbox: ref(id))
        case ("POST", let id?, "fork"?):
            return try await fork(request, of: ref(id), caller: caller)
        case ("GET", let id?, "metrics"?):
            return try await sandboxMetrics(request, ref(id))
        case ("POST", let id?, "refreshes"?):
            let body = request.body.isEmpty ? nil : try Self.decode(SandboxRefreshRequest.self, request)
            let asked = body?.duration ?? Self.defaultTimeout
            guard (0...Self.maxRefreshSeconds).contains(asked) else {
                throw E2BError(400, "duration must be between 0 and \(Self.maxRefreshSeconds) seconds")
            }
            // As E2B's API: less than the default counts as the default.
            let seconds = max(asked, Self.defaultTimeout)
            let record = try await service.get(ref(id))
            try await deadlines.set(record.id.rawValue, owner: caller.owner, seconds: seconds, extendOnly: true)
            return HTTPResponse(status: 204)
        default:
            throw Self.unsupported(request)
        }
    }

    /// `GET /v2/sandboxes`: filtered by `metadata` (a url-encoded `k=v&…`, each side quoted once
    /// more), `state` (`running,paused`) and `template`; ordered by start (`order=desc` newest first);
    /// paged by `limit` with `X-Next-Token` (an offset) while more remain.
    private func list(_ request: HTTPRequest, caller: Caller) async throws -> HTTPResponse {
        var wanted: [String: String] = [:]
        for pair in (request.queryValue("metadata") ?? "").split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            guard kv.count == 2 else { throw E2BError(400, "metadata filter must be key=value pairs") }
            wanted[kv[0]] = kv[1]
        }
        let states = try (request.queryValue("state")?.split(separator: ",") ?? []).map { raw in
            guard let state = BhattiE2B.SandboxState(rawValue: String(raw)) else { throw E2BError(400, "unknown state \(raw)") }
            return state
        }
        let (limit, offset) = try Self.page(request)
        let template = request.queryValue("template")
        var records = try await service.list(owner: caller.owner, labels: wanted)
            .filter { states.isEmpty || states.contains(Self.state($0.state)) }
            .filter { template == nil || $0.image == template }
            .sorted { $0.createdAt < $1.createdAt }
        if request.queryValue("order") == "desc" { records.reverse() }
        let page = records.dropFirst(offset).prefix(limit)
        var objects: [ListedSandbox] = []
        for record in page { objects.append(await listed(record)) }
        var response = try reply(objects)
        if offset + page.count < records.count { response.headers.set("X-Next-Token", String(offset + page.count)) }
        return response
    }

    /// A list's `limit` (default 100) and `nextToken` (the offset the previous page's `X-Next-Token` gave).
    static func page(_ request: HTTPRequest) throws -> (limit: Int, offset: Int) {
        let limit =
            try request.queryValue("limit").map { raw in
                guard let n = Int(raw), n > 0 else { throw E2BError(400, "limit must be a positive whole number") }
                return n
            } ?? 100
        let offset =
            try request.queryValue("nextToken").map { raw in
                guard let n = Int(raw), n >= 0 else { throw E2BError(400, "invalid nextToken") }
                return n
            } ?? 0
        return (limit, offset)
    }

    static func unsupported(_ request: HTTPRequest) -> E2BError {
        E2BError(404, "\(request.method) \(BhattiError.shortened(request.path)) is not supported by bhatti's E2B API (see docs/e2b.md)")
    }

    private func create(_ request: HTTPRequest, caller: Caller) async throws -> HTTPResponse {
        let body: NewSandbox
        do { body = try ControlPlaneJSON.decode(NewSandbox.self, from: request.body) } catch {
            throw E2BError(400, "invalid sandbox request: \(error)")
        }
        if let first = body.unmodeledFields.first {
            throw E2BError(400, "\(first) is not supported by bhatti's E2B API")
        }
        let action = try Self.timeoutAction(autoPause: body.autoPause, memory: body.autoPauseMemory)
        try CommandInput.validate(env: body.envVars ?? [:])
        // The caller's own snapshot of that name comes before an image of it.
        if let snapshot = try await service.store.snapshot(ownedBy: caller.owner, named: body.templateID) {
            return try await restore(snapshot, body, caller: caller, action: action)
        }
        let name = Self.newSandboxName()
        let spec = try SandboxSpec(name: name, cpus: 1, memoryMB: 1024, diskMB: nil)
        let image = body.templateID == Self.defaultTemplate ? nil : body.templateID
        let (record, _) = try await service.create(
            spec, owner: caller.owner, limits: caller.limits, labels: body.metadata ?? [:], keepHot: false, image: image,
            setup: GuestSetup(env: body.envVars ?? [:]), egress: Self.egress(body))
        return try await adopt(record, caller: caller, seconds: body.timeout ?? Self.defaultTimeout, action: action)
    }

    /// `allow_internet_access=False` is egress `deny`; anything else the public default.
    static func egress(_ body: NewSandbox) -> EgressPolicy {
        body.allowInternetAccess == false ? EgressPolicy(deny: true) : .publicAccess
    }

    /// What a sandbox made through the E2B API is called (`bhatti list` shows it): `e2b-<8 hex>`.
    static func newSandboxName() -> SandboxName {
        SandboxName(rawValue: "e2b-" + String(SandboxID.random().rawValue.prefix(8)))!
    }

    /// E2B's default sandbox timeout, in seconds, when a request names none.
    static let defaultTimeout = 15

    static func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest) throws -> T {
        do { return try ControlPlaneJSON.decode(T.self, from: request.body) } catch {
            throw E2BError(400, "invalid request body: \(error)")
        }
    }

    /// When the sandbox ends: its deadline, or (without one: paused, or made before a restart) a day
    /// after its start.
    func endAt(_ r: SandboxRecord) async -> Timestamp {
        guard let left = await deadlines.remaining(r.id.rawValue) else {
            return Self.timestamp(r.createdAt.addingTimeInterval(Self.nominalLifetime))
        }
        let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        return Self.timestamp(Date().addingTimeInterval(seconds))
    }

    func sandbox(_ r: SandboxRecord) -> Sandbox {
        Sandbox(
            templateID: r.image, sandboxID: r.id.rawValue, clientID: "bhatti", envdAccessToken: tokens.token(for: r.id.rawValue),
            domain: domain)
    }

    func detail(_ r: SandboxRecord) async throws -> SandboxDetail {
        let end = await endAt(r)
        let lifecycle = try await service.store.e2bTimeoutAction(r.id).map { LifecyclePolicy.reported(Self.onTimeout($0)) }
        return SandboxDetail(
            templateID: r.image, sandboxID: r.id.rawValue, clientID: "bhatti", startedAt: Self.timestamp(r.createdAt),
            endAt: end, envdAccessToken: tokens.token(for: r.id.rawValue),
            allowInternetAccess: !r.egress.deny, domain: domain, cpuCount: r.cpus, memoryMB: r.memoryMB, diskSizeMB: r.diskMB ?? 0,
            metadata: r.labels, state: Self.state(r.state), lifecycle: lifecycle)
    }

    func listed(_ r: SandboxRecord) async -> ListedSandbox {
        let end = await endAt(r)
        return ListedSandbox(
            templateID: r.image, sandboxID: r.id.rawValue, clientID: "bhatti", startedAt: Self.timestamp(r.createdAt),
            endAt: end, cpuCount: r.cpus, memoryMB: r.memoryMB,
            diskSizeMB: r.diskMB ?? 0, metadata: r.labels, state: Self.state(r.state))
    }

    /// `endAt` of a sandbox without a deadline.
    static let nominalLifetime: TimeInterval = 86_400

    /// E2B knows running and paused: a cold sandbox (its memory on disk) is paused; warm ones wake
    /// on any call, as running ones answer.
    static func state(_ s: BhattiCore.SandboxState) -> BhattiE2B.SandboxState { s == .cold ? .paused : .running }

    static func timestamp(_ date: Date) -> Timestamp {
        let seconds = date.timeIntervalSince1970
        return Timestamp(seconds: Int64(seconds.rounded(.down)), nanos: Int32((seconds - seconds.rounded(.down)) * 1e9))
    }

    func reply(_ value: some Encodable, status: Int = 200) throws -> HTTPResponse {
        HTTPResponse.json(status: status, bytes: ControlPlaneJSON.encode(value))
    }
}

/// An E2B control-plane error: `{"code": <status>, "message": …}` with that HTTP status.
struct E2BError: Error {
    let status: Int
    let message: String
    init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    var response: HTTPResponse {
        HTTPResponse.json(status: status, bytes: ControlPlaneJSON.encode(ControlPlaneError(code: status, message: message)))
    }
}

import BhattiAPI
import BhattiCore
import BhattiE2B
import BhattiHTTP
import BhattiStore
import Foundation

/// E2B's snapshots and forks in bhatti's terms: a snapshot is one of the caller's named snapshots (its
/// name is its `snapshotID`, and a create whose `templateID` names it restores it), and a fork is a
/// native fork. Both keep memory: a filesystem-only snapshot is refused, as a filesystem-only pause is.
extension E2BControlPlane {
    /// `POST /sandboxes/{id}/snapshots`: the sandbox keeps running; an unnamed snapshot gets
    /// `e2b-snap-<8 hex>` and reports no `names`, as E2B's.
    func createSnapshot(_ request: HTTPRequest, sandbox: SandboxRef) async throws -> HTTPResponse {
        let body = request.body.isEmpty ? SandboxSnapshotRequest() : try Self.decode(SandboxSnapshotRequest.self, request)
        do { try LifecyclePolicy.snapshot(memory: body.memory) } catch { throw E2BError(400, "\(error)") }
        let name = body.name ?? "e2b-snap-" + String(SandboxID.random().rawValue.prefix(8))
        let snapshot = try await service.createSnapshot(of: sandbox, name: name)
        return try reply(SnapshotInfo(snapshotID: snapshot.name, names: body.name == nil ? [] : [snapshot.name]), status: 201)
    }

    /// `GET /snapshots`: the caller's snapshots, oldest first, filtered by `sandboxID` (taken of it)
    /// and `name`, paged by `limit` with `X-Next-Token` (an offset) while more remain.
    func listSnapshots(_ request: HTTPRequest, caller: Caller) async throws -> HTTPResponse {
        let source = request.queryValue("sandboxID")
        let name = request.queryValue("name")
        let snapshots = try await service.snapshots(owner: caller.owner)
            .filter { source == nil || $0.sourceSandboxID?.rawValue == source }
            .filter { name == nil || $0.name == name }
        let (limit, offset) = try Self.page(request)
        let page = snapshots.dropFirst(offset).prefix(limit)
        var response = try reply(page.map { SnapshotInfo(snapshotID: $0.name, names: [$0.name]) })
        if offset + page.count < snapshots.count { response.headers.set("X-Next-Token", String(offset + page.count)) }
        return response
    }

    /// `DELETE /templates/{id}`: only snapshots are templates the caller can delete here; anything
    /// else is 404, which the SDK's `delete_snapshot` reports as False.
    func deleteSnapshot(_ id: String, caller: Caller) async throws -> HTTPResponse {
        try await service.deleteSnapshot(id.removingPercentEncoding ?? id, owner: caller.owner)
        return HTTPResponse(status: 204)
    }

    /// A create whose template is one of the caller's snapshots: a new sandbox restored from it.
    func restore(_ snapshot: SnapshotRecord, _ body: NewSandbox, caller: Caller, action: E2BTimeoutAction) async throws -> HTTPResponse {
        let name = Self.newSandboxName()
        let record = try await service.restoreSnapshot(
            snapshot.name, owner: caller.owner, limits: caller.limits, as: name, labels: body.metadata ?? [:],
            setup: GuestSetup(env: body.envVars ?? [:]), egress: Self.egress(body))
        return try await adopt(record, caller: caller, seconds: body.timeout ?? Self.defaultTimeout, action: action)
    }

    /// `POST /sandboxes/{id}/fork`: `count` native forks (1–20), each its own E2B sandbox with the
    /// source's labels, egress and timeout action, alive for `timeout`. One that fails is an error
    /// entry; the others stand.
    func fork(_ request: HTTPRequest, of source: SandboxRef, caller: Caller) async throws -> HTTPResponse {
        let body = request.body.isEmpty ? SandboxForkRequest() : try Self.decode(SandboxForkRequest.self, request)
        let count = body.count ?? 1
        guard (1...Self.maxForks).contains(count) else { throw E2BError(400, "count must be between 1 and \(Self.maxForks)") }
        if let timeout = body.timeout, timeout < 0 { throw E2BError(400, "timeout must not be negative") }
        let parent = try await service.get(source)
        let action = try await service.store.e2bTimeoutAction(parent.id) ?? .kill
        var results: [SandboxForkResult] = []
        for index in 0..<count {
            do {
                // The request itself paid for the first, as a create does; each further fork is one more.
                if index > 0 { try gate.charge(caller.owner, .create) }
                let name = Self.newSandboxName()
                let spec = try SandboxSpec(name: name, cpus: parent.cpus, memoryMB: parent.memoryMB, diskMB: parent.diskMB)
                let (record, _) = try await service.create(
                    spec, owner: caller.owner, limits: caller.limits, labels: parent.labels, keepHot: false, from: parent.id.rawValue,
                    egress: parent.egress)
                do { try await register(record, caller: caller, seconds: body.timeout ?? Self.defaultTimeout, action: action) } catch {
                    // Unregistered, it would run with no deadline: it is not one of the forks.
                    try? await service.destroy(SandboxRef(record.id.rawValue, owner: caller.owner))
                    throw error
                }
                results.append(SandboxForkResult(sandbox: sandbox(record)))
            } catch {
                results.append(SandboxForkResult(error: Self.forkError(error)))
            }
        }
        return try reply(results, status: 201)
    }

    /// A failed fork's entry: its status and message as the whole request would have had them.
    static func forkError(_ error: any Error) -> ControlPlaneError {
        switch error {
        case let refusal as GateRefusal: ControlPlaneError(code: 429, message: refusal.error.message)
        case let error as BhattiError:
            ControlPlaneError(
                code: HTTPStatusMapping.status(for: error.code), message: error.code == .internal ? "internal error" : error.message)
        default: ControlPlaneError(code: 500, message: "internal error")
        }
    }

    /// The most forks one request makes, as the SDK allows.
    static let maxForks = 20

    /// Marks a new sandbox as E2B's, with its deadline and timeout action, and answers it (201).
    func adopt(_ record: SandboxRecord, caller: Caller, seconds: Int, action: E2BTimeoutAction) async throws -> HTTPResponse {
        try await register(record, caller: caller, seconds: seconds, action: action)
        return try reply(sandbox(record), status: 201)
    }

    private func register(_ record: SandboxRecord, caller: Caller, seconds: Int, action: E2BTimeoutAction) async throws {
        try await service.store.insertE2BSandbox(record.id, deadline: nil, onTimeout: action)
        try await deadlines.set(record.id.rawValue, owner: caller.owner, seconds: seconds)
    }
}

import BhattiAPI
import BhattiCore
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation

/// Sandbox CRUD: DTO in, service call, DTO out.
enum SandboxHandlers {
    static func create(_ request: HTTPRequest, _ service: SandboxService, caller: Caller, secrets: SecretBox, previews: PreviewURLs)
        async throws -> HTTPResponse
    {
        let body = try decodeBody(
            CreateSandboxRequest.self, from: request, known: CreateSandboxRequest.knownFields,
            notYetSupported: CreateSandboxRequest.notYetSupported)
        let name =
            try body.name.map { try SandboxName.parse($0) } ?? SandboxName(
                rawValue: "sandbox-" + String(SandboxID.random().rawValue.prefix(6)))!
        if body.from != nil, body.cpus != nil || body.memoryMB != nil {
            throw BhattiError(.invalidArgument, "a fork takes cpus and memory_mb from its source; leave them out with \"from\"")
        }
        if body.from != nil, body.image != nil {
            throw BhattiError(.invalidArgument, "a fork boots its source's image; leave out image with \"from\"")
        }
        let spec = try SandboxSpec(name: name, cpus: body.cpus ?? 1, memoryMB: body.memoryMB ?? 1024, diskMB: body.diskMB)
        let egress = try EgressPolicy.parse(body.egress, allow: body.allowCIDRs ?? [])
        var setup = GuestSetup(env: body.env ?? [:], initScript: body.initScript)
        try CommandInput.validate(env: setup.env)
        for file in body.files ?? [] {
            guard file.path.hasPrefix("/"), !file.path.split(separator: "/").contains("..") else {
                throw BhattiError(.invalidArgument, "file path \(BhattiError.quoted(file.path)) must be absolute, without ..")
            }
            guard Data(base64Encoded: file.content) != nil else {
                throw BhattiError(.invalidArgument, "file \(BhattiError.shortened(file.path)): content must be base64")
            }
            let mode = file.mode ?? "0644"
            guard mode.count <= 4, let bits = Int(mode, radix: 8), bits <= 0o7777 else {
                throw BhattiError(.invalidArgument, "file \(BhattiError.shortened(file.path)): mode must be octal like 0644")
            }
            setup.files.append(GuestFile(path: file.path, content: file.content, mode: mode))
        }
        // Decrypted here, straight into the agent's configure message: never stored, never returned.
        setup.secrets = try await secrets.reveal(owner: caller.owner, names: body.secrets ?? [])
        let (record, existing) = try await service.create(
            spec, owner: caller.owner, limits: caller.limits, labels: body.labels ?? [:], keepHot: body.keepHot ?? false,
            from: body.from, image: body.image, setup: setup, egress: egress)
        // An existing sandbox may have published ports: its object shows their URLs, as GET does.
        let object = existing ? try await dto(record, owner: caller.owner, service: service, previews: previews) : dto(record)
        var response = try json(object, status: existing ? 200 : 201)
        if existing { response.headers.set(APIVersion.existingHeader, "true") }
        return response
    }

    static func list(_ request: HTTPRequest, _ service: SandboxService, caller: Caller, previews: PreviewURLs) async throws -> HTTPResponse
    {
        var labels: [String: String] = [:]
        for filter in request.query["label"] ?? [] {
            guard let eq = filter.firstIndex(of: "="), eq != filter.startIndex else {
                throw BhattiError(.invalidArgument, "label filter must be key=value, got \(BhattiError.quoted(filter))")
            }
            labels[String(filter[..<eq])] = String(filter[filter.index(after: eq)...])
        }
        let records = try await service.list(owner: caller.owner, labels: labels)
        let rules = try await service.publishRules(owner: caller.owner)
        return try json(
            records.map { r in
                dto(r, urls: (rules[r.id] ?? []).compactMap { previews.url(alias: $0.alias) })
            })
    }

    /// An environment variable's name: the rule is a secret name's (both become variables), the
    /// message says which one it is.
    /// A snapshot's name: a sandbox name's rules, in a message that says snapshot.
    static func validate(snapshotName: String) throws(BhattiError) {
        do { _ = try SandboxName.parse(snapshotName) } catch {
            throw BhattiError(
                .invalidArgument,
                "invalid snapshot name \"\(snapshotName)\": use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    /// The sandbox object with its preview URLs: every reply that returns one shows them, as GET does.
    static func dto(_ r: SandboxRecord, owner: String, service: SandboxService, previews: PreviewURLs) async throws -> SandboxDTO {
        let rules = try await service.publishRules(SandboxRef(r.id.rawValue, owner: owner))
        return dto(r, urls: rules.compactMap { previews.url(alias: $0.alias) })
    }

    static func dto(_ r: SandboxRecord, urls: [String] = []) -> SandboxDTO {
        SandboxDTO(
            id: r.id.rawValue, name: r.name.rawValue, state: r.state.rawValue, cpus: r.cpus, memoryMB: r.memoryMB,
            diskMB: r.diskMB, ip: r.ip, image: r.image, labels: r.labels, keepHot: r.keepHot,
            createdAt: iso8601(r.createdAt), urls: urls, stateReason: r.stateReason,
            egress: r.egress.deny ? "deny" : "public", allowCIDRs: r.egress.allow.isEmpty ? nil : r.egress.allow)
    }

    static func snapshotDTO(_ s: SnapshotRecord, sourceName: String? = nil) -> SnapshotDTO {
        SnapshotDTO(
            id: s.id, name: s.name, sourceSandboxID: s.sourceSandboxID?.rawValue, sourceSandboxName: sourceName, cpus: s.cpus,
            memoryMB: s.memoryMB, sizeBytes: s.sizeBytes, createdAt: iso8601(s.createdAt))
    }

    /// The caller's snapshots, each with its source sandbox's name while that sandbox exists.
    static func snapshots(_ service: SandboxService, caller: Caller) async throws -> [SnapshotDTO] {
        let names = Dictionary(try await service.list(owner: caller.owner, labels: [:]).map { ($0.id, $0.name.rawValue) }) { a, _ in a }
        return try await service.snapshots(owner: caller.owner).map { s in
            snapshotDTO(s, sourceName: s.sourceSandboxID.flatMap { names[$0] })
        }
    }
}

import BhattiAPI
import BhattiCore
import BhattiHTTP
import BhattiStore
import BhattiWire
import Foundation

/// Sandbox CRUD: DTO in, service call, DTO out.
enum SandboxHandlers {
    static func create(_ request: HTTPRequest, _ service: SandboxService, caller: Caller, secrets: SecretBox) async throws -> HTTPResponse {
        let body = try decodeBody(
            CreateSandboxRequest.self, from: request, known: CreateSandboxRequest.knownFields,
            notYetSupported: CreateSandboxRequest.notYetSupported)
        let name = try body.name.map { try SandboxName.parse($0) } ?? SandboxName(rawValue: "sandbox-" + String(SandboxID.random().rawValue.prefix(6)))!
        if body.from != nil, body.cpus != nil || body.memoryMB != nil {
            throw BhattiError(.invalidArgument, "a fork takes cpus and memory_mb from its source; leave them out with \"from\"")
        }
        let spec = try SandboxSpec(name: name, cpus: body.cpus ?? 1, memoryMB: body.memoryMB ?? 1024, diskMB: body.diskMB)
        let egress = try EgressPolicy.parse(body.egress, allow: body.allowCIDRs ?? [])
        var setup = GuestSetup(env: body.env ?? [:], initScript: body.initScript)
        try CommandInput.validate(env: setup.env)
        for key in setup.env.keys { try SecretBox.validate(name: key) }
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
            setup.files.append(GuestConfig.File(path: file.path, content: file.content, mode: mode))
        }
        // Decrypted here, straight into the agent's configure message: never stored, never returned.
        setup.secrets = try await secrets.reveal(owner: caller.owner, names: body.secrets ?? [])
        let (record, existing) = try await service.create(
            spec, owner: caller.owner, limits: caller.limits, labels: body.labels ?? [:], keepHot: body.keepHot ?? false,
            from: body.from, setup: setup, egress: egress)
        var response = try json(dto(record), status: existing ? 200 : 201)
        if existing { response.headers.set(APIVersion.existingHeader, "true") }
        return response
    }

    static func list(_ request: HTTPRequest, _ service: SandboxService, caller: Caller, previews: PreviewURLs) async throws -> HTTPResponse {
        var labels: [String: String] = [:]
        for filter in request.query["label"] ?? [] {
            guard let eq = filter.firstIndex(of: "="), eq != filter.startIndex else {
                throw BhattiError(.invalidArgument, "label filter must be key=value, got \(BhattiError.quoted(filter))")
            }
            labels[String(filter[..<eq])] = String(filter[filter.index(after: eq)...])
        }
        let records = try await service.list(owner: caller.owner, labels: labels)
        let rules = try await service.publishRules(owner: caller.owner)
        return try json(records.map { r in
            dto(r, urls: (rules[r.id] ?? []).compactMap { previews.url(alias: $0.alias) })
        })
    }

    static func dto(_ r: SandboxRecord, urls: [String] = []) -> SandboxDTO {
        SandboxDTO(
            id: r.id.rawValue, name: r.name.rawValue, state: r.state.rawValue, cpus: r.cpus, memoryMB: r.memoryMB,
            diskMB: r.diskMB, ip: r.ip, image: r.image, labels: r.labels, keepHot: r.keepHot,
            createdAt: iso8601(r.createdAt), urls: urls, stateReason: r.stateReason,
            egress: r.egress.deny ? "deny" : "public", allowCIDRs: r.egress.allow.isEmpty ? nil : r.egress.allow)
    }

    static func snapshotDTO(_ s: SnapshotRecord) -> SnapshotDTO {
        SnapshotDTO(
            id: s.id, name: s.name, sourceSandboxID: s.sourceSandboxID?.rawValue, cpus: s.cpus, memoryMB: s.memoryMB,
            sizeBytes: s.sizeBytes, createdAt: iso8601(s.createdAt))
    }
}

import BhattiCore
public import BhattiStore
import Foundation

/// Preview URLs: a sandbox's port published under a public alias.
extension SandboxService {
    /// Publishes `port` of the sandbox under `alias` (default `<name>-<port>`, with a random suffix if
    /// another sandbox has it). Publishing a port again returns its rule unchanged.
    public func publish(_ ref: SandboxRef, port: Int, alias: String?) async throws -> (PublishRule, existing: Bool) {
        guard (1...65535).contains(port) else { throw BhattiError(.invalidArgument, "port must be 1-65535, got \(port)") }
        let record = try await get(ref)
        if let existing = try await store.publishRules(sandboxID: record.id).first(where: { $0.port == port }) {
            if let alias, alias != existing.alias {
                throw BhattiError(.alreadyExists, "port \(port) is already published as \(existing.alias); unpublish it first")
            }
            return (existing, true)
        }
        if let alias { try Self.validate(alias: alias) }
        var candidate = alias ?? Self.defaultAlias(name: record.name.rawValue, port: port)
        for attempt in 0..<5 {
            let rule = PublishRule(sandboxID: record.id, port: port, alias: candidate, createdAt: Date())
            do {
                try await store.insertPublishRule(rule)
                log.info("sandbox.published", ["sandbox.id": record.id.rawValue, "port": String(port), "alias": candidate])
                events.record("sandbox.published", sandbox: record.id, user: record.userID, detail: "port=\(port) alias=\(candidate)")
                return (rule, false)
            } catch let error as BhattiError where error.code == .alreadyExists && alias == nil && attempt < 4 {
                candidate = Self.defaultAlias(name: record.name.rawValue, port: port) + "-" + String(SandboxID.random().rawValue.prefix(4))
            }
        }
        throw BhattiError(.alreadyExists, "no free alias for \(record.name) port \(port); pass one")
    }

    public func unpublish(_ ref: SandboxRef, port: Int) async throws {
        let record = try await get(ref)
        do { try await store.deletePublishRule(sandboxID: record.id, port: port) } catch let error as BhattiError
            where error.code == .notFound
        {
            // The store knows the sandbox by id; the caller named it.
            throw BhattiError(.notFound, "port \(port) of sandbox \(record.name.rawValue) is not published")
        }
        events.record("sandbox.unpublished", sandbox: record.id, user: record.userID, detail: "port=\(port)")
    }

    public func publishRules(_ ref: SandboxRef) async throws -> [PublishRule] {
        try await store.publishRules(sandboxID: try await get(ref).id)
    }

    /// The owner's rules by sandbox: for the `urls` of a list (the store joins; every owner's rules
    /// are never loaded).
    func publishRules(owner: String) async throws -> [SandboxID: [PublishRule]] {
        Dictionary(grouping: try await store.publishRules(ownedBy: owner), by: \.sandboxID)
    }

    /// The rule behind a public alias and the sandbox it routes to, whoever owns it.
    func route(alias: String) async throws -> (PublishRule, SandboxRef)? {
        guard let rule = try await store.publishRule(alias: alias), let record = try await sandbox(rule.sandboxID) else { return nil }
        return (rule, SandboxRef(record.id.rawValue, owner: record.userID ?? ""))
    }

    /// DNS-label safe, so an alias works as `<alias>.<zone>` as well as `/<alias>/`.
    static func validate(alias: String) throws {
        let bytes = Array(alias.utf8)
        let ok =
            (1...63).contains(bytes.count) && bytes.first != 45 && bytes.last != 45
            && bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || $0 == 45 }
        guard ok else {
            throw BhattiError(
                .invalidArgument,
                "invalid alias \(BhattiError.quoted(alias)): use 1-63 lowercase letters, digits or '-', not starting or ending with '-'")
        }
    }

    static func defaultAlias(name: String, port: Int) -> String {
        let cleaned = String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(50))
            .trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return (cleaned.isEmpty ? "sandbox" : cleaned) + "-\(port)"
    }
}

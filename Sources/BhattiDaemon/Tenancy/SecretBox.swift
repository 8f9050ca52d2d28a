import BhattiAge
import BhattiCore
import BhattiStore
import Foundation

/// Secrets at rest: each value is an age file encrypted to the daemon's X25519 recipient; the identity
/// lives in `<data-dir>/age.key` (0600, the format `age-keygen` writes, so `age -d -i age.key` reads
/// any stored secret). Plaintext exists only in memory, on its way into a guest's environment.
public final class SecretBox: Sendable {
    let identity: AgeIdentity
    let recipient: AgeRecipient
    private let store: SandboxStore

    /// Secret names become environment variable names.
    static let maxValueBytes = 64 << 10

    init(identity: AgeIdentity, store: SandboxStore) {
        self.identity = identity
        recipient = identity.recipient
        self.store = store
    }

    /// Reads `age.key`, creating it on first start.
    static func open(dataDirectory: String, store: SandboxStore) throws -> SecretBox {
        let path = dataDirectory + "/age.key"
        if let data = FileManager.default.contents(atPath: path) {
            do { return SecretBox(identity: try AgeIdentity(parsing: String(decoding: data, as: UTF8.self)), store: store) } catch {
                throw BhattiError(
                    .internal,
                    "\(path) does not hold an age identity; restore it from a backup (secrets stored with it cannot be read without it)",
                    cause: error)
            }
        }
        let identity: AgeIdentity
        do { identity = try AgeIdentity.generate() } catch {
            throw BhattiError(.internal, "cannot generate the secrets key", cause: error)
        }
        try AdminKey.writePrivate(path: path, contents: identity.fileContents)
        return SecretBox(identity: identity, store: store)
    }

    /// Encrypts and stores `value` as the owner's secret `name` (created or replaced).
    func set(owner: String, name: String, value: String) async throws -> SecretRecord {
        try Self.validate(name: name)
        guard value.utf8.count <= Self.maxValueBytes else {
            throw BhattiError(.tooLarge, "secret values are limited to \(Self.maxValueBytes) bytes")
        }
        // A secret becomes an environment variable, a C string: a NUL would cut it short in the guest.
        guard !value.utf8.contains(0) else {
            throw BhattiError(.invalidArgument, "secret \(name) contains a NUL byte (\\u0000); environment values cannot hold one")
        }
        let sealed: [UInt8]
        do { sealed = try Age.encrypt(Array(value.utf8), to: [recipient]) } catch {
            throw BhattiError(.internal, "cannot encrypt secret", cause: error)
        }
        try await store.setSecret(userID: owner, name: name, ciphertext: sealed)
        guard let record = try await store.secret(userID: owner, name: name) else {
            throw BhattiError(.internal, "secret \(name) vanished after it was written")
        }
        return record
    }

    /// The owner's secrets `names`, decrypted. An unknown name is the caller's mistake (400), named.
    func reveal(owner: String, names: [String]) async throws -> [String: String] {
        var values: [String: String] = [:]
        for name in names {
            guard let record = try await store.secret(userID: owner, name: name) else {
                throw BhattiError(.invalidArgument, "secret \(name) not found; see bhatti secret list")
            }
            do { values[name] = String(decoding: try Age.decrypt(record.ciphertext, with: [identity]), as: UTF8.self) } catch {
                throw BhattiError(.internal, "secret \(name) cannot be decrypted with \(recipient.encoded)", cause: error)
            }
        }
        return values
    }

    /// Environment variable names: what the guest turns a secret into.
    static func validate(name: String) throws {
        guard isEnvironmentName(name) else {
            throw BhattiError(
                .invalidArgument,
                "invalid secret name \(BhattiError.quoted(name)): use letters, digits and '_', not starting with a digit (it becomes an environment variable)"
            )
        }
    }
}

/// An environment variable's name as bhatti takes it (secrets become one): 1–128 letters, digits and
/// `_`, not starting with a digit. A `=` or NUL would set another variable than the one named.
func isEnvironmentName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    return (1...128).contains(bytes.count) && !(bytes[0] >= 48 && bytes[0] <= 57)
        && bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
}

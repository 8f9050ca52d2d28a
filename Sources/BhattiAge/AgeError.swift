/// Everything that can go wrong reading or writing age files and keys.
///
/// Cases carry the reason (or the libcrypto call that failed) so callers can log
/// something actionable; none of them ever carries key material.
public enum AgeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The header does not follow the v1 grammar (the reason says where).
    case malformedHeader(String)
    /// The file is an age file of a version other than v1.
    case unsupportedVersion(String)
    /// An X25519 stanza is syntactically valid header text but not a valid X25519 stanza.
    case malformedStanza(String)
    /// The file ended before the header or the final payload chunk was complete.
    case truncated
    /// Bytes follow the final payload chunk.
    case trailingData
    /// A non-first final chunk decrypted to nothing, which v1 forbids.
    case emptyFinalChunk
    /// Payload chunk `chunk` (0-based) failed ChaCha20-Poly1305 authentication.
    case payloadAuthenticationFailed(chunk: UInt64)
    /// The header MAC does not match: the header was altered.
    case headerMACMismatch
    /// None of the identities could unwrap any stanza.
    case noIdentityMatched
    /// An X25519 exchange produced the all-zero secret (a low-order point).
    case allZeroSharedSecret
    case noRecipients
    case noIdentities
    case invalidIdentity(String)
    case invalidRecipient(String)
    case bech32(Bech32Error)
    /// A libcrypto call failed; the associated value names it.
    case libcrypto(String)

    public var description: String {
        switch self {
        case .malformedHeader(let why): "age: malformed header: \(why)"
        case .unsupportedVersion(let v): "age: unsupported format version \"\(v)\""
        case .malformedStanza(let why): "age: malformed X25519 stanza: \(why)"
        case .truncated: "age: file is truncated"
        case .trailingData: "age: trailing data after the final payload chunk"
        case .emptyFinalChunk: "age: final payload chunk is empty"
        case .payloadAuthenticationFailed(let chunk): "age: payload chunk \(chunk) failed authentication"
        case .headerMACMismatch: "age: header MAC mismatch"
        case .noIdentityMatched: "age: no identity matched any recipient stanza"
        case .allZeroSharedSecret: "age: X25519 shared secret is all zero (low-order point)"
        case .noRecipients: "age: no recipients given"
        case .noIdentities: "age: no identities given"
        case .invalidIdentity(let why): "age: invalid identity: \(why)"
        case .invalidRecipient(let why): "age: invalid recipient: \(why)"
        case .bech32(let cause): "age: \(cause)"
        case .libcrypto(let call): "age: libcrypto call \(call) failed"
        }
    }
}

/// Why a Bech32 string (BIP-173) was rejected.
public enum Bech32Error: Error, Equatable, Sendable, CustomStringConvertible {
    case mixedCase
    case invalidCharacter(UInt8)
    case invalidSeparatorPosition
    case badChecksum
    /// The 5-bit groups do not convert to whole bytes with zero padding.
    case invalidPadding

    public var description: String {
        switch self {
        case .mixedCase: "bech32: mixed case"
        case .invalidCharacter(let c): "bech32: invalid character 0x\(String(c, radix: 16))"
        case .invalidSeparatorPosition: "bech32: separator '1' missing or misplaced"
        case .badChecksum: "bech32: bad checksum"
        case .invalidPadding: "bech32: invalid padding"
        }
    }
}

/// What a Connect server checks in a request's headers before reading its body, for the JSON codec
/// only (the SDK never sends binary protobuf).
///
/// What the e2b SDK 2.63.0 sends (captured on the wire): `POST /process.Process/Start` with
/// `content-type: application/connect+json`, `connect-protocol-version: 1`, `connect-timeout-ms: 60000`,
/// `connect-content-encoding: identity`, `connect-accept-encoding: identity` and a chunked body; unary
/// calls send `content-type: application/json` with `content-encoding: identity` and
/// `accept-encoding: identity` instead.
public enum ConnectRequestKind: Equatable, Sendable {
    /// Bare JSON body and response; errors as HTTP statuses.
    case unary
    /// Enveloped messages both ways; HTTP 200 and errors in the end message.
    case streaming
}

public enum ConnectContentType {
    public static let unaryJSON = "application/json"
    public static let streamingJSON = "application/connect+json"
    /// The `Accept-Post` header of a 415 answer, listing what we do read.
    public static let acceptPost = "application/json, application/connect+json"

    /// The kind of call a content type asks for; nil means answer HTTP 415 with `Accept-Post` (the
    /// spec's rule for an unsupported codec, including `application/proto`). Parameters such as
    /// `; charset=utf-8` and letter case don't matter.
    public static func kind(of contentType: String?) -> ConnectRequestKind? {
        guard let contentType else { return nil }
        let base = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        switch base.trimmingSpaces.lowercased() {
        case unaryJSON: return .unary
        case streamingJSON: return .streaming
        default: return nil
        }
    }
}

public enum ConnectRequestHead {
    /// `content-encoding` (unary) or `connect-content-encoding` (streaming): only identity, or none,
    /// is readable; anything else is `unimplemented`, naming what we support, as the spec asks.
    public static func checkEncoding(_ value: String?) throws(ConnectError) {
        guard let value else { return }
        let name = value.trimmingSpaces.lowercased()
        if name.isEmpty || name == "identity" { return }
        throw ConnectError(.unimplemented, "unknown compression \"\(value)\": supported encodings are identity")
    }

    /// `connect-protocol-version`: optional (connect-go and connectrpc servers don't require it), but
    /// when present it must be 1.
    public static func checkProtocolVersion(_ value: String?) throws(ConnectError) {
        guard let value, value != "1" else { return }
        throw ConnectError(.invalidArgument, "connect-protocol-version must be \"1\": got \"\(value)\"")
    }

    /// `connect-timeout-ms`: nil when absent (no deadline); at most 10 ASCII digits, else
    /// invalid_argument. 0 is a deadline already passed.
    public static func timeoutMilliseconds(_ value: String?) throws(ConnectError) -> Int64? {
        guard let value else { return nil }
        let digits = Array(value.utf8)
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw ConnectError(.invalidArgument, "invalid connect-timeout-ms \"\(value)\": want 1 to 10 digits")
        }
        return digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}

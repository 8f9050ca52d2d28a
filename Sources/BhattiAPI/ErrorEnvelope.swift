public import BhattiCore

/// `{"error":{"code":…,"message":…,"request_id":…}}`: every error the API returns.
public struct ErrorEnvelope: Codable, Equatable, Sendable {
    public struct Body: Codable, Equatable, Sendable {
        public var code: String
        public var message: String
        public var requestID: String?
        enum CodingKeys: String, CodingKey {
            case code, message
            case requestID = "request_id"
        }
    }
    public var error: Body

    public init(code: String, message: String, requestID: String?) {
        error = Body(code: code, message: message, requestID: requestID)
    }
}

/// The one table from error code to HTTP status.
public enum HTTPStatusMapping {
    public static func status(for code: BhattiError.Code) -> Int {
        switch code {
        case .invalidArgument: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .alreadyExists, .invalidState: 409
        case .tooLarge: 413
        case .rateLimited, .resourceExhausted: 429
        case .insufficientStorage: 507
        case .internal: 500
        case .badGateway: 502
        case .unavailable: 503
        }
    }
}

/// Names shared by the daemon and the CLI.
public enum APIVersion {
    public static let server = "0.1.0"
    public static let ndjson = "application/x-ndjson"
    public static let existingHeader = "X-Bhatti-Existing"
}

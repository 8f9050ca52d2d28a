import BhattiAPI
import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation
import Synchronization

/// envd (`E2B_SANDBOX_URL=<daemon>/e2b/envd`): the sandbox is named by `E2b-Sandbox-Id` and proven
/// by its `X-Access-Token`; Connect calls with the JSON codec become guest calls (the process
/// service in `E2BEnvd+Process`, the file system's here).
struct E2BEnvd {
    let service: SandboxService
    let tokens: EnvdTokens
    let processes: E2BProcesses
    let watchers: E2BWatchers
    /// Where uploads of unknown size wait before they go to the guest (`E2BEnvd+Files`).
    let spool: UploadSpool
    /// Charges each call to the sandbox owner's rate-limit buckets, as the native API's routes are.
    let gate: Gate
    /// The rate-limit bucket of an envd call, as its native counterpart's: starting a command and
    /// uploading are `exec`; input to a running one (each keystroke of a terminal is a call) is not
    /// charged, as a native shell's messages are not; the rest is `read`.
    static func requestClass(_ method: String, _ route: String) -> RequestClass? {
        switch (method, route) {
        case ("POST", "process.Process/Start"), ("POST", "files"): .exec
        case ("POST", "process.Process/SendInput"), ("POST", "process.Process/Update"), ("POST", "process.Process/CloseStdin"): nil
        default: .read
        }
    }

    /// Largest request message taken, in bytes.
    static let maxMessageBytes = 4 << 20

    func handle(_ request: HTTPRequest, path: [Substring]) async -> HTTPResponse {
        let id = request.headers["E2b-Sandbox-Id"] ?? ""
        guard !id.isEmpty, tokens.verify(request.headers["X-Access-Token"], for: id) else {
            return Self.unary(ConnectError(.unauthenticated, "a valid X-Access-Token for the sandbox in E2b-Sandbox-Id is required"))
        }
        let record: SandboxRecord
        do { record = try await find(id) } catch { return Self.unary(ConnectError(.notFound, "sandbox \(id) not found")) }
        // The SDK names a user (Basic auth, or `username` on /files) only when asked to. Commands and
        // terminals run as the user named (E2B's `user` is the sandbox's own); files are written by
        // the sandbox's user, so another user is refused there rather than ignored.
        let user = Self.requestedUser(request).flatMap { Self.defaultUsers.contains($0) ? nil : $0 }
        let route = path.joined(separator: "/")
        if let kind = Self.requestClass(request.method, route), let owner = record.userID {
            do { try gate.charge(owner, kind) } catch {
                let refusal = ConnectError(.resourceExhausted, error.error.message)
                var response =
                    EnvdProcedure(rawValue: "/" + route)?.kind == .streaming ? Self.stream(error: refusal) : Self.unary(refusal)
                if let wait = error.retryAfter { response.headers.set("Retry-After", String(wait)) }
                return response
            }
        }
        if let user, !route.hasPrefix("process.") {
            return Self.unary(ConnectError(.unimplemented, "file operations as user \(user) are not supported by bhatti's envd"))
        }
        switch (request.method, route) {
        case ("GET", "health"):
            return HTTPResponse(status: 204)
        case ("POST", "process.Process/Start"):
            return await start(request, record, user: user)
        case ("POST", "process.Process/Connect"):
            return connect(request, record)
        case ("POST", "process.Process/List"):
            return await unary(request) { _ in
                EnvdProcess.ListResponse(processes: await processes.list(sandbox: record.id.rawValue)).protoJSON()
            }
        case ("POST", "process.Process/SendInput"):
            return await unary(request) { body in try await sendInput(body, record) }
        case ("POST", "process.Process/CloseStdin"):
            return await unary(request) { body in try await closeStdin(body, record) }
        case ("POST", "process.Process/Update"):
            return await unary(request) { body in try await update(body, record) }
        case ("POST", "process.Process/StreamInput"):
            return Self.stream(
                error: ConnectError(.unimplemented, "StreamInput needs HTTP/2, which bhatti's envd does not speak: use SendInput"))
        case ("POST", "process.Process/SendSignal"):
            return await unary(request) { body in
                let message = try EnvdProcess.SendSignalRequest(protoJSON: body)
                guard message.signal == .sigkill || message.signal == .sigterm else {
                    throw ConnectError(.invalidArgument, "signal must be SIGNAL_SIGTERM or SIGNAL_SIGKILL")
                }
                guard await processes.kill(sandbox: record.id.rawValue, message.process?.selector) else {
                    throw ConnectError(.notFound, "no such process")
                }
                return EnvdProcess.SendSignalResponse().protoJSON()
            }
        case ("POST", "filesystem.Filesystem/WatchDir"):
            return watchDir(request, record)
        case ("POST", let method) where method.hasPrefix("filesystem.Filesystem/"):
            return await unary(request) { body in
                try await filesystem(String(method.dropFirst("filesystem.Filesystem/".count)), body, record)
            }
        case ("GET", "files"), ("POST", "files"):
            do { return try await files(request, record) } catch let error as BhattiError {
                return Self.plain(HTTPStatusMapping.status(for: error.code), error.code == .internal ? "internal error" : error.message)
            } catch RequestBodyError.invalid(let error) {
                // A chunked upload that broke its framing or outgrew the limit midway.
                return Self.plain(error.status, error.message)
            } catch {
                return Self.plain(500, "internal error")
            }
        default:
            return Self.unary(
                ConnectError(.unimplemented, "\(request.method) \(BhattiError.shortened(request.path)) is not supported by bhatti's envd"))
        }
    }

    /// The token already proves the caller may use the sandbox; the record gives its owner.
    private func find(_ id: String) async throws -> SandboxRecord {
        guard let sandboxID = SandboxID(rawValue: id), let record = try await service.store.sandbox(id: sandboxID) else {
            throw BhattiError(.notFound, "no sandbox \(id)")
        }
        return record
    }

    /// A unary Connect call: JSON in (`application/json`), JSON out, or the Connect error with its status.
    func unary(_ request: HTTPRequest, _ body: ([UInt8]) async throws -> [UInt8]) async -> HTTPResponse {
        guard ConnectContentType.kind(of: request.headers["Content-Type"]) == .unary else {
            return Self.unsupportedMediaType("send application/json")
        }
        do { return HTTPResponse.json(status: 200, bytes: try await body(request.body)) } catch {
            return Self.unary(Self.connectError(error))
        }
    }

    /// Any failure as the Connect error a client sees: the API's and the guest's refusals keep their
    /// message; what would only be internal detail does not.
    static func connectError(_ error: any Error) -> ConnectError {
        switch error {
        case let error as ConnectError: return error
        case let error as WireDecodingError: return error.connectError
        case let error as BhattiError:
            let code: ConnectCode =
                switch error.code {
                case .notFound: .notFound
                case .invalidArgument: .invalidArgument
                case .permissionDenied: .permissionDenied
                case .resourceExhausted: .resourceExhausted
                case .unavailable: .unavailable
                default: .internal
                }
            return ConnectError(code, code == .internal ? "internal error" : error.message)
        case let error as GuestError:
            let code: ConnectCode =
                switch error.kind {
                case .notFound: .notFound
                case .badRequest: .invalidArgument
                case .permissionDenied: .permissionDenied
                case .resourceExhausted, .insufficientStorage: .resourceExhausted
                case .timedOut: .deadlineExceeded
                case .unavailable: .unavailable
                case .internal: .internal
                }
            return ConnectError(code, code == .internal ? "internal error" : error.message)
        default: return ConnectError(.internal, "internal error")
        }
    }

    /// The user a call asks for: `Authorization: Basic base64(user:)` or `?username=`; nil for none.
    static func requestedUser(_ request: HTTPRequest) -> String? {
        if let name = request.queryValue("username"), !name.isEmpty { return name }
        guard let header = request.headers["Authorization"], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) })
        else { return nil }
        let name = String(decoded.prefix { $0 != ":" })
        return name.isEmpty ? nil : name
    }

    /// Names that mean the sandbox's own user: E2B's default, and bhatti's.
    static let defaultUsers: Set<String> = ["user", "lohar"]

    static func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : "/workspace/" + path }

    /// envd's plain HTTP error: the status and `{"code":…,"message":…}`.
    static func plain(_ status: Int, _ message: String) -> HTTPResponse {
        HTTPResponse.json(status: status, bytes: ControlPlaneJSON.encode(ControlPlaneError(code: status, message: message)))
    }

    /// The one message a server-streaming call's request carries, enveloped.
    static func onlyMessage<M: ProtoMessage>(_ type: M.Type, of request: HTTPRequest) throws(ConnectError) -> M {
        do {
            var decoder = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: maxMessageBytes)
            let envelopes = try decoder.feed(request.body)
            try decoder.finish()
            guard envelopes.count == 1, let envelope = envelopes.first else {
                throw ConnectError(.invalidArgument, "the request must carry exactly one message, got \(envelopes.count)")
            }
            return try M(envelopePayload: envelope.payload)
        } catch let error as ConnectError {
            throw error
        } catch let error as ConnectFramingError {
            throw error.connectError
        } catch let error as WireDecodingError {
            throw error.connectError
        } catch {
            throw ConnectError(.internal, "\(error)")
        }
    }

    /// 415 for a server-streaming call (`Start`, `Connect`, `WatchDir`) not sent as a stream; nil
    /// when it was.
    static func refusingUnary(_ request: HTTPRequest, _ call: String) -> HTTPResponse? {
        guard ConnectContentType.kind(of: request.headers["Content-Type"]) != .streaming else { return nil }
        return unsupportedMediaType("\(call) is a server stream: send application/connect+json")
    }

    /// 415 for a call sent with the other codec's content type, naming the ones taken.
    static func unsupportedMediaType(_ message: String) -> HTTPResponse {
        var response = unary(ConnectError(.unknown, message))
        response.status = 415
        response.headers.set("Accept-Post", ConnectContentType.acceptPost)
        return response
    }

    /// A unary Connect error: its HTTP status, the JSON error body.
    static func unary(_ error: ConnectError) -> HTTPResponse {
        HTTPResponse.json(status: error.httpStatus, bytes: error.jsonBytes())
    }

    /// A streaming call that failed before it began: 200, then only the end of the stream.
    static func stream(error: ConnectError) -> HTTPResponse {
        var response = HTTPResponse(status: 200, body: .bytes(ConnectEndStream(error: error).envelope().encoded()))
        response.headers.set("Content-Type", ConnectContentType.streamingJSON)
        return response
    }
}

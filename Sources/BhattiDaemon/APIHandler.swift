import BhattiAPI
import BhattiCore
import BhattiEngine
public import BhattiHTTP
import BhattiJSON
import BhattiStore
import Foundation

/// Routes requests to handlers: authenticate, translate the DTO, call the service, encode the reply.
/// Handlers hold no logic of their own.
public struct APIHandler: HTTPHandler {
    let service: SandboxService
    let gate: Gate
    let secrets: SecretBox
    let previews: PreviewURLs
    let health: @Sendable () -> HealthDTO
    let log: Logger
    /// `/e2b/…`: the E2B-compatible surface, nil when off.
    var e2b: E2BHandler?

    private var tenancy: TenancyHandlers { TenancyHandlers(service: service, users: gate.users, secrets: secrets) }

    /// `POST /v1/sandboxes/{id}/exec` runs on the HTTP loop thread: up to the command's start it is a
    /// key check, a store lookup and one frame out, then a wait, so two thread hand-offs (start and
    /// answer) were most of what the API added to an exec. Its slow parts leave the loop by
    /// themselves: wakes and reconnects run as tasks of their own, the streamed reply's producer too,
    /// and a large buffered reply is encoded on the pool. Everything else stays on the pool.
    public func placement(for request: HTTPRequest) -> HandlerPlacement {
        Self.placement(method: request.method, path: request.path)
    }

    static func placement(method: String, path: String) -> HandlerPlacement {
        // The suffix check keeps the loop from matching every other request's path.
        guard method == "POST", path.hasSuffix("/exec") else { return .pool }
        if case .found(.exec) = APIRoute.match(method: method, path: path) { return .loop }
        return .pool
    }

    /// `req_` and 16 hex digits, zero-padded so every id has the same length.
    static func newRequestID() -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "req_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A request the server could not read (413, 431, a chunked upload's 400) carries what every
    /// other answer does: the headers, and a `request_id` in its envelope.
    public func rejection(_ error: HTTPParseError) -> HTTPResponse {
        let requestID = Self.newRequestID()
        var response = HTTPResponse.json(
            status: error.status, bytes: envelope(code: error.code, message: error.message, requestID: requestID))
        response.headers.set("X-Request-Id", requestID)
        response.headers.set("X-Bhatti-Version", APIVersion.server)
        log.info("http.rejected", ["http.status": String(error.status), "error": error.message, "request.id": requestID])
        return response
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let requestID = Self.newRequestID()
        let start = ContinuousClock.now
        var response: HTTPResponse
        var user = "-"
        if let e2b, request.path.hasPrefix(E2BHandler.prefix) {
            return finish(await e2b.handle(request), request, requestID: requestID, user: user, start: start)
        }
        do {
            // Matched once; a path nothing serves is refused only after the key check, as before.
            let match = APIRoute.match(method: request.method, path: request.path)
            if !match.needsKey {
                guard case .found(.health) = match else { throw methodNotAllowed(request) }
                response = try json(health())
            } else {
                let caller: Caller
                do { caller = try gate.admit(request, route: match.route) } catch {
                    response = errorResponse(error.error, requestID: requestID)
                    if let wait = error.retryAfter { response.headers.set("Retry-After", String(wait)) }
                    return finish(response, request, requestID: requestID, user: user, start: start)
                }
                user = caller.user.name
                switch match {
                case .found(let route): response = try await self.route(request, route, caller)
                case .methodNotAllowed: throw methodNotAllowed(request)
                case .notFound: throw notFound(request)
                }
            }
        } catch let error as BhattiError {
            response = errorResponse(error, requestID: requestID)
        } catch {
            response = errorResponse(BhattiError(.internal, "internal error", cause: error), requestID: requestID)
        }
        return finish(response, request, requestID: requestID, user: user, start: start)
    }

    private func finish(_ response: HTTPResponse, _ request: HTTPRequest, requestID: String, user: String, start: ContinuousClock.Instant)
        -> HTTPResponse
    {
        var response = response
        response.headers.set("X-Request-Id", requestID)
        response.headers.set("X-Bhatti-Version", APIVersion.server)
        if request.path != "/health" {
            log.info(
                "http.request",
                [
                    "http.method": request.method, "http.path": request.path, "http.status": String(response.status),
                    "duration_ms": millisecondsText(ContinuousClock.now - start), "request.id": requestID, "user": user,
                ])
        }
        return response
    }

    /// One case per endpoint; the handlers translate, the service decides.
    private func route(_ request: HTTPRequest, _ route: APIRoute, _ caller: Caller) async throws -> HTTPResponse {
        let ref = { (id: String) in SandboxRef(id, owner: caller.owner) }
        switch route {
        case .health:
            return try json(health())
        case .listSandboxes:
            return try await SandboxHandlers.list(request, service, caller: caller, previews: previews)
        case .createSandbox:
            return try await SandboxHandlers.create(request, service, caller: caller, secrets: secrets, previews: previews)
        case .sandbox(let id):
            return try json(try await sandboxObject(try await service.get(ref(id)), caller))
        case .editSandbox(let id):
            let body = try decodeBody(EditSandboxRequest.self, from: request, known: EditSandboxRequest.knownFields)
            let name = try body.name.map { try SandboxName.parse($0) }
            let record = try await service.edit(
                ref(id), name: name, keepHot: body.keepHot, addLabels: body.labelsAdd ?? [:], removeLabels: body.labelsRemove ?? [],
                diskMB: body.diskMB)
            return try json(try await sandboxObject(record, caller))
        case .destroySandbox(let id):
            try await service.destroy(ref(id))
            return try json(StatusDTO(status: "destroyed"))
        case .pause(let id):
            return try json(try await sandboxObject(try await service.pause(ref(id)), caller))
        case .stop(let id):
            return try json(try await sandboxObject(try await service.stop(ref(id)), caller))
        case .start(let id):
            return try json(try await sandboxObject(try await service.start(ref(id)), caller))
        case .createSnapshot(let id):
            let body = try decodeBody(CreateSnapshotRequest.self, from: request, known: CreateSnapshotRequest.knownFields)
            try SandboxHandlers.validate(snapshotName: body.name)
            let snapshot = try await service.createSnapshot(of: ref(id), name: body.name)
            return try json(SandboxHandlers.snapshotDTO(snapshot, sourceName: try? await service.get(ref(id)).name.rawValue), status: 201)
        case .saveImage(let id):
            let body = try decodeBody(SaveImageRequest.self, from: request, known: SaveImageRequest.knownFields)
            let entry = try await service.saveImage(of: ref(id), name: body.name)
            return try json(ImageHandlers.dto(entry, packages: false, images: service.images), status: 201)
        case .exec(let id):
            return try await ExecHandler.exec(request, id: ref(id), service: service)
        case .readFile(let id), .statFile(let id), .writeFile(let id):
            return try await FileHandlers.handle(request, id: ref(id), service: service)
        case .shell(let id):
            return try await ShellHandler.handle(request, id: ref(id), service: service, tty: true)
        case .execSocket(let id):
            return try await ShellHandler.handle(request, id: ref(id), service: service, tty: false)
        case .sessions(let id):
            let sessions = try await service.withGuest(ref(id)) { try await $0.listSessions() }
            return try json(sessions.map(SessionDTO.init))
        case .proxy(let id, let port, _):
            return try await ProxyHandler.handle(request, ref: ref(id), port: port, service: service)
        case .publish(let id):
            let body = try decodeBody(PublishRequest.self, from: request, known: PublishRequest.knownFields)
            let (rule, existing) = try await service.publish(ref(id), port: body.port, alias: body.alias)
            return try json(publishDTO(rule), status: existing ? 200 : 201)
        case .publishRules(let id):
            return try json(try await service.publishRules(ref(id)).map(publishDTO))
        case .unpublish(let id, let portText):
            guard let port = Int(portText) else {
                throw BhattiError(.invalidArgument, "port must be a number, got \(BhattiError.quoted(portText))")
            }
            try await service.unpublish(ref(id), port: port)
            return try json(StatusDTO(status: "unpublished"))
        case .snapshots:
            return try json(try await SandboxHandlers.snapshots(service, caller: caller))
        case .restoreSnapshot(let snapshot):
            let body = try decodeBody(RestoreSnapshotRequest.self, from: request, known: RestoreSnapshotRequest.knownFields)
            let name = try body.name.map { try SandboxName.parse($0) }
            try SandboxLabels.validate(body.labels ?? [:])
            let record = try await service.restoreSnapshot(
                snapshot, owner: caller.owner, limits: caller.limits, as: name, labels: body.labels ?? [:])
            return try json(SandboxHandlers.dto(record), status: 201)
        case .deleteSnapshot(let snapshot):
            try await service.deleteSnapshot(snapshot, owner: caller.owner)
            return try json(StatusDTO(status: "deleted"))
        case .images:
            return try await ImageHandlers.list(service.images, caller: caller)
        case .image(let name):
            return try await ImageHandlers.inspect(name, service.images, caller: caller)
        case .deleteImage(let name):
            return try await ImageHandlers.delete(name, service.images, caller: caller)
        case .importImage(let name):
            return try await ImageHandlers.importImage(name, request, service.images, caller: caller)
        case .users, .createUser, .editUser, .deleteUser, .rotateKey:
            return try await tenancy.users(request, route, caller: caller)
        case .secrets, .setSecret, .deleteSecret:
            return try await tenancy.secrets(request, route, caller: caller)
        case .events:
            return try await tenancy.events(request, caller: caller)
        }
    }

    private func publishDTO(_ rule: PublishRule) -> PublishDTO {
        PublishDTO(port: rule.port, alias: rule.alias, url: previews.url(alias: rule.alias), createdAt: iso8601(rule.createdAt))
    }

    private func sandboxObject(_ record: SandboxRecord, _ caller: Caller) async throws -> SandboxDTO {
        try await SandboxHandlers.dto(record, owner: caller.owner, service: service, previews: previews)
    }

    private func methodNotAllowed(_ request: HTTPRequest) -> BhattiError {
        BhattiError(.methodNotAllowed, "method \(request.method) is not allowed on \(BhattiError.shortened(request.path))")
    }

    private func notFound(_ request: HTTPRequest) -> BhattiError {
        BhattiError(.notFound, "no route for \(BhattiError.shortened(request.method)) \(BhattiError.shortened(request.path))")
    }

    /// The longest error message sent, in characters.
    static let maxMessage = 1_024

    private func errorResponse(_ error: BhattiError, requestID: String) -> HTTPResponse {
        // A 500 never leaks internals: the cause goes to the log under the request id.
        // Messages quote input cut short (`BhattiError.quoted`); this bounds any that were missed.
        let message = error.code == .internal ? "internal error" : BhattiError.shortened(error.message, limit: Self.maxMessage)
        if error.code == .internal || error.code == .unavailable {
            log.error("http.error", ["request.id": requestID, "error": error.description])
        }
        let status = HTTPStatusMapping.status(for: error.code)
        return HTTPResponse.json(status: status, bytes: envelope(code: error.code.rawValue, message: message, requestID: requestID))
    }

    private func envelope(code: String, message: String, requestID: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(ErrorEnvelope(code: code, message: message, requestID: requestID)))) ?? []
    }
}

/// Encodes a DTO as a JSON response.
func json<T: Encodable>(_ value: T, status: Int = 200) throws -> HTTPResponse {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return HTTPResponse.json(status: status, bytes: Array(try encoder.encode(value)))
}

/// Decodes a JSON body, refusing duplicate keys (a FastJSON scan first), unknown fields and those the
/// contract names but this server lacks (the unknown-field check reads the decoder's own keys).
func decodeBody<T: Decodable>(_ type: T.Type, from request: HTTPRequest, known: Set<String>, notYetSupported: Set<String> = []) throws -> T
{
    let body = request.body.isEmpty ? Array("{}".utf8) : request.body
    try refuseDuplicateKeys(body)
    let decoder = JSONDecoder()
    decoder.userInfo[knownKeysKey] = known
    let checked: KeyCheck<T>
    do {
        checked = try decoder.decode(KeyCheck<T>.self, from: Data(body))
    } catch KeyCheckError.notAnObject {
        throw BhattiError(.invalidArgument, "request body must be a JSON object")
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        if context.codingPath.isEmpty { throw BhattiError(.invalidArgument, "request body must be a JSON object") }
        throw BhattiError(.invalidArgument, "field \(BhattiError.quoted(fieldPath(context.codingPath))) has the wrong type")
    } catch let DecodingError.keyNotFound(key, context) {
        // Swift's own text names its CodingKeys; a user wants the JSON field.
        throw BhattiError(.invalidArgument, "missing field \(BhattiError.quoted(fieldPath(context.codingPath + [key])))")
    } catch DecodingError.dataCorrupted {
        throw BhattiError(.invalidArgument, "request body must be a JSON object")
    } catch let error as BhattiError {
        throw error
    } catch {
        // Swift's own description names its types and CodingKeys: the cause is kept, not shown.
        throw BhattiError(.invalidArgument, "invalid request body", cause: error)
    }
    if let key = checked.unknown.first {
        if notYetSupported.contains(key) {
            throw BhattiError(.invalidArgument, "field \(BhattiError.quoted(key)) is not supported by this server yet")
        }
        throw BhattiError(.invalidArgument, "unknown field \(BhattiError.quoted(key))")
    }
    guard let value = checked.value else { throw BhattiError(.invalidArgument, "invalid request body") }
    return value
}

/// Refuses a body that names a key twice in any object (JSONDecoder would keep the first copy
/// silently). FastJSON finds them in one pass; what it finds malformed is left to the decoder that
/// follows, whose messages every route shares.
func refuseDuplicateKeys(_ body: [UInt8]) throws(BhattiError) {
    do { _ = try FastJSON.parse(body) } catch {
        if let key = error.duplicateKey { throw duplicateKeyError(key) }
    }
}

func duplicateKeyError(_ key: String) -> BhattiError {
    BhattiError(.invalidArgument, "field \(BhattiError.quoted(key)) appears more than once in the request body")
}

/// A decoding path as a JSON field: `files[0].path`.
func fieldPath(_ path: [any CodingKey]) -> String {
    path.reduce("") { text, key in
        if let i = key.intValue { return text + "[\(i)]" }
        return text.isEmpty ? key.stringValue : text + "." + key.stringValue
    }
}

enum KeyCheckError: Error { case notAnObject }

/// Where `decodeBody` tells `KeyCheck` which keys the DTO knows.
let knownKeysKey = CodingUserInfoKey(rawValue: "bhatti.knownKeys")!

/// Decodes `T` and collects the top-level keys it does not know, from one pass over the JSON. Unknown
/// keys are reported before `T`'s own errors, as a client with a typo expects.
struct KeyCheck<T: Decodable>: Decodable {
    var unknown: [String] = []
    var value: T?

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        guard let keys = try? decoder.container(keyedBy: AnyKey.self) else { throw KeyCheckError.notAnObject }
        let known = decoder.userInfo[knownKeysKey] as? Set<String> ?? []
        unknown = keys.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        if unknown.isEmpty { value = try T(from: decoder) }
    }
}

import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation
import Synchronization

/// envd (`E2B_SANDBOX_URL=<daemon>/e2b/envd`): the sandbox is named by `E2b-Sandbox-Id` and proven
/// by its `X-Access-Token`; Connect calls with the JSON codec become guest calls. So far only
/// `process.Process/Start` without a PTY or stdin, and `GET /health`.
struct E2BEnvd {
    let service: SandboxService
    let tokens: EnvdTokens
    /// Largest request message taken, in bytes.
    static let maxMessageBytes = 4 << 20
    /// E2B pids are per envd; here they number the streams this daemon started.
    static let pids = Atomic<UInt32>(1000)

    func handle(_ request: HTTPRequest, path: [Substring]) async -> HTTPResponse {
        let id = request.headers["E2b-Sandbox-Id"] ?? ""
        guard !id.isEmpty, tokens.verify(request.headers["X-Access-Token"], for: id) else {
            return Self.unary(ConnectError(.unauthenticated, "a valid X-Access-Token for the sandbox in E2b-Sandbox-Id is required"))
        }
        let record: SandboxRecord
        do { record = try await find(id) } catch { return Self.unary(ConnectError(.notFound, "sandbox \(id) not found")) }
        switch (request.method, path.joined(separator: "/")) {
        case ("GET", "health"):
            return HTTPResponse(status: 204)
        case ("POST", "process.Process/Start"):
            return start(request, record)
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

    /// `Start` as a server stream: one request envelope in; start, data and end events out, then the
    /// end of the stream.
    private func start(_ request: HTTPRequest, _ record: SandboxRecord) -> HTTPResponse {
        guard ConnectContentType.kind(of: request.headers["Content-Type"]) == .streaming else {
            var response = Self.unary(ConnectError(.unknown, "Start is a server stream: send application/connect+json"))
            response.status = 415
            response.headers.set("Accept-Post", ConnectContentType.acceptPost)
            return response
        }
        let message: EnvdProcess.StartRequest
        do {
            var decoder = ConnectEnvelopeDecoder(direction: .requests, maxMessageBytes: Self.maxMessageBytes)
            let envelopes = try decoder.feed(request.body)
            try decoder.finish()
            guard envelopes.count == 1, let envelope = envelopes.first else {
                return Self.stream(error: ConnectError(.invalidArgument, "Start takes exactly one message, got \(envelopes.count)"))
            }
            message = try EnvdProcess.StartRequest(envelopePayload: envelope.payload)
        } catch let error as ConnectFramingError {
            return Self.stream(error: error.connectError)
        } catch let error as WireDecodingError {
            return Self.stream(error: error.connectError)
        } catch {
            return Self.stream(error: ConnectError(.internal, "\(error)"))
        }
        guard let process = message.process, !process.cmd.isEmpty else {
            return Self.stream(error: ConnectError(.invalidArgument, "process.cmd is required"))
        }
        if message.pty != nil {
            return Self.stream(error: ConnectError(.unimplemented, "PTY processes are not supported by bhatti's envd yet"))
        }
        if message.stdinEnabled {
            return Self.stream(error: ConnectError(.unimplemented, "processes with stdin are not supported by bhatti's envd yet"))
        }
        let timeout: Duration
        do {
            let ms = try ConnectRequestHead.timeoutMilliseconds(request.headers["Connect-Timeout-Ms"])
            timeout = .milliseconds(Int64(ms ?? 86_400_000))
        } catch {
            return Self.stream(error: error)
        }
        let command = GuestCommand(argv: [process.cmd] + process.args, env: process.envs, cwd: process.cwd)
        let ref = SandboxRef(record.id.rawValue, owner: record.userID ?? "")
        let service = self.service
        let pid = Self.pids.add(1, ordering: .relaxed).newValue
        let output = ResponseStream { output in
            let send: @Sendable (EnvdProcess.ProcessEvent.Event) async -> Void = { event in
                _ = await output.send(ConnectEnvelope(message: EnvdProcess.StartResponse(event)).encoded())
            }
            await send(.start(.init(pid: pid)))
            do {
                let outcome = try await service.exec(ref, command: command, stdin: nil, timeout: timeout) { event in
                    switch event {
                    case .stdout(let bytes): await send(.data(.init(.stdout(bytes))))
                    case .stderr(let bytes): await send(.data(.init(.stderr(bytes))))
                    case .exit: break
                    }
                }
                let code = outcome.exitCode
                await send(.end(.init(exitCode: code, exited: true, status: "exit status \(code)")))
                _ = await output.send(ConnectEndStream().envelope().encoded())
            } catch {
                let message = (error as? BhattiError)?.message ?? "internal error"
                _ = await output.send(ConnectEndStream(error: ConnectError(.unavailable, message)).envelope().encoded())
            }
        }
        var response = HTTPResponse(status: 200, body: .stream(output))
        response.headers.set("Content-Type", ConnectContentType.streamingJSON)
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

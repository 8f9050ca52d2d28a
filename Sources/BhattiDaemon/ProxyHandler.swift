import BhattiCore
import BhattiEngine
import BhattiHTTP
import BhattiStore
import BhattiSystem
import Foundation

/// `ANY /v1/sandboxes/{id}/proxy/{port}/…`: HTTP and WebSocket to the guest's `localhost:{port}`
/// over the agent channel's forward streams.
///
/// The request is rewritten (no hop-by-hop headers, no bhatti key, `Host: localhost:{port}`,
/// `X-Forwarded-*`, `Connection: close` or the upgrade) and sent upstream; from then on the relay is
/// raw bytes both ways, so chunked bodies, server-sent events and WebSocket frames pass through as the
/// guest's server writes them. The client's connection closes when the upstream one does. While the
/// relay runs, the sandbox is held hot.
enum ProxyHandler {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
        "upgrade", "host", "content-length", "expect", "authorization",
    ]

    static func handle(_ request: HTTPRequest, ref: SandboxRef, port portText: String, service: SandboxService) async throws -> HTTPResponse
    {
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw BhattiError(.invalidArgument, "proxy port must be 1-65535, got \(BhattiError.quoted(portText))")
        }
        return try await open(request, ref: ref, port: port, target: upstreamTarget(request.target), service: service)
    }

    /// Wakes the sandbox, connects to `port` in it, sends the rewritten request for `target`, and
    /// answers with the relay. `prefix` is the path the client sees in front of `target` (a preview URL's
    /// `/<alias>`), passed on as `X-Forwarded-Prefix`.
    static func open(
        _ request: HTTPRequest, ref: SandboxRef, port: Int, target: String, prefix: String? = nil, service: SandboxService
    ) async throws -> HTTPResponse {
        let (record, guest) = try await service.guest(ref)
        let forward: any GuestPortForward
        do { forward = try await guest.forward(port: port) } catch let error as GuestError {
            if error.kind == .notFound {
                throw BhattiError(.badGateway, "nothing answers on port \(port) in sandbox \(record.name) (\(error.message))", cause: error)
            }
            throw BhattiError(.badGateway, "cannot reach port \(port) in sandbox \(record.name): \(error)", cause: error)
        }
        do { try await forward.send(upstreamHead(request, target: target, port: port, prefix: prefix) + request.body) } catch {
            forward.close()
            throw BhattiError(.badGateway, "port \(port) in sandbox \(record.name) closed before the request was sent", cause: error)
        }
        await service.hold(record.id)
        let lease = HotLease(service: service, id: record.id)
        return HTTPResponse(
            status: 200,
            body: .tunnel(
                RawTunnel { client in
                    await relay(client, forward)
                    forward.close()
                    await lease.end()
                }))
    }

    /// Bytes both ways until the upstream ends (or the client cannot be written to). The client's end
    /// of input is passed on as a half-close: an HTTP server still answers, a WebSocket server hangs up.
    static func relay(_ client: TunnelConnection, _ upstream: any GuestPortForward) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // A client that does not read blocks the write (and so the guest's reader, through the
                // credit taken per chunk): on its own thread, never the cooperative pool's.
                do {
                    for try await chunk in upstream.incoming {
                        try await Blocking.run(name: "bhatti-proxy-out") { try client.write(chunk) }
                    }
                } catch {}
            }
            group.addTask {
                while let chunk = await client.next() {
                    do { try await upstream.send(chunk) } catch { return }
                }
                try? upstream.finishSending()
                // Keep this task alive: the relay ends when the upstream does, not at the client's EOF.
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// The request line and headers for the guest's server.
    static func upstreamHead(_ request: HTTPRequest, target: String, port: Int, prefix: String? = nil) -> [UInt8] {
        let upgrade = request.headers.tokens(for: "Upgrade").first
        let named = Set(request.headers.tokens(for: "Connection"))
        var text = "\(request.method) \(target) HTTP/1.1\r\nHost: localhost:\(port)\r\n"
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) || lower.hasPrefix("x-forwarded-") { continue }
            text += "\(name): \(value)\r\n"
        }
        let chain = [request.headers["X-Forwarded-For"], request.remoteAddress ?? "unix"].compactMap { $0 }.joined(separator: ", ")
        text += "X-Forwarded-For: \(chain)\r\nX-Forwarded-Proto: \(request.isSecure ? "https" : "http")\r\n"
        if let host = request.headers["Host"] { text += "X-Forwarded-Host: \(host)\r\n" }
        if let prefix { text += "X-Forwarded-Prefix: \(prefix)\r\n" }
        if let upgrade {
            text += "Connection: Upgrade\r\nUpgrade: \(upgrade)\r\n"
        } else {
            text += "Connection: close\r\n"
        }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            text += "Content-Length: \(request.body.count)\r\n"
        }
        return Array((text + "\r\n").utf8)
    }

    /// What follows `/v1/sandboxes/{id}/proxy/{port}` in the raw target, query included; `/` at least.
    static func upstreamTarget(_ target: String) -> String {
        let (path, query) = target.firstIndex(of: "?").map { (target[..<$0], target[$0...]) } ?? (target[...], "")
        var slashes = 0
        var index = path.startIndex
        while index < path.endIndex {
            if path[index] == "/" {
                slashes += 1
                if slashes == 6 { break }
            }
            index = path.index(after: index)
        }
        let rest = index < path.endIndex ? String(path[index...]) : "/"
        return rest + query
    }
}

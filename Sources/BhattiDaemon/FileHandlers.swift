import BhattiAPI
import BhattiCore
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation

/// `GET` · `PUT` · `HEAD /v1/sandboxes/{id}/files?path=…`: raw bytes in and out, `ls=true` lists.
enum FileHandlers {
    /// Uploads are capped by the agent at 100 MiB.
    static let maxUpload = 100 << 20
    /// A slow client holds back the guest instead of growing the daemon's memory past this (queued for
    /// the client before a chunk waits; as much again may be in the connection's write).
    static let maxBuffered = 4 << 20

    static func handle(_ request: HTTPRequest, id: SandboxRef, service: SandboxService) async throws -> HTTPResponse {
        guard let path = request.queryValue("path"), !path.isEmpty else {
            throw BhattiError(.invalidArgument, "the path query parameter is required (…/files?path=/workspace/file)")
        }
        switch request.method {
        case "GET" where request.queryValue("ls") == "true":
            let listing = try await service.withGuest(id) { try await $0.list(path) }
            return try json(FileListingDTO(listing))
        case "GET": return try await read(request, path: path, id: id, service: service)
        case "HEAD":
            let info = try await service.withGuest(id) { try await $0.stat(path) }
            var response = HTTPResponse(status: 200)
            response.headers.set("X-File-Size", String(info.size))
            response.headers.set("X-File-Mode", info.mode)
            response.headers.set("X-File-IsDir", info.isDir ? "true" : "false")
            return response
        case "PUT":
            if request.headers["Transfer-Encoding"] != nil {
                throw BhattiError(.invalidArgument, "file uploads need Content-Length (chunked bodies are refused)")
            }
            let mode = request.queryValue("mode") ?? "0644"
            guard mode.count >= 3, mode.count <= 4, Int(mode, radix: 8) != nil else {
                throw BhattiError(.invalidArgument, "mode must be octal, like 0644")
            }
            let info: GuestFileInfo
            if let stream = request.bodyStream {
                // The parser refuses a chunked body here (the route does not take one): the size is known.
                guard let size = stream.length else { throw BhattiError(.invalidArgument, "file uploads need Content-Length") }
                // Streamed (Daemon.start turns it on): chunks go to the guest as they arrive, and the
                // socket is read only as fast as the guest takes them.
                info = try await service.withGuest(id) {
                    try await $0.writeFile(path: path, mode: mode, size: size) { try await stream.next() }
                }
            } else {
                let body = request.body
                info = try await service.withGuest(id) { try await $0.writeFile(path: path, mode: mode, bytes: body) }
            }
            return try json(FileInfoDTO(info))
        default:
            throw BhattiError(.methodNotAllowed, "method \(request.method) is not allowed on \(request.path)")
        }
    }

    /// Streams the file; `X-File-Size` is the whole file's size even when `offset`/`limit`/`max_bytes` cut it.
    static func read(_ request: HTTPRequest, path: String, id: SandboxRef, service: SandboxService) async throws -> HTTPResponse {
        func number(_ name: String) throws -> Int? {
            guard let raw = request.queryValue(name) else { return nil }
            guard let n = Int(raw), n >= 0 else { throw BhattiError(.invalidArgument, "\(name) must be a whole number ≥ 0") }
            return n
        }
        let fileRequest = GuestFileRead(
            path: path, offset: try number("offset"), limit: try number("limit"), maxBytes: try number("max_bytes"))
        // Held from here until the reader ends, however the read goes.
        let (record, guest) = try await service.heldGuest(id)
        let output = ResponseStream(highWater: maxBuffered)
        let (infos, infoSink) = AsyncThrowingStream<GuestFileReadInfo, any Error>.makeStream()
        // Reads on while the response streams; cancelled when the client goes away.
        let reader = Task {
            do {
                _ = try await guest.readFile(
                    fileRequest,
                    onInfo: { info in
                        infoSink.yield(info)
                        infoSink.finish()
                    }
                ) { chunk in
                    // Waits while the client is not taking the stream; the guest is credited after it.
                    guard await output.send(chunk) else { throw CancellationError() }
                }
            } catch {
                infoSink.finish(throwing: error)
            }
            output.finish()
            // Released here, not in a task of its own: every way out of the read above comes here.
            await service.release(record.id)
        }
        output.adopt(reader)
        do {
            var first: GuestFileReadInfo?
            for try await info in infos {
                first = info
                break
            }
            guard let info = first else { throw GuestError(.unavailable, "the file's info never came") }
            var response = HTTPResponse(status: 200, body: .stream(output))
            response.headers.set("Content-Type", "application/octet-stream")
            response.headers.set("X-File-Size", String(info.size))
            response.headers.set("X-File-Mode", info.mode)
            return response
        } catch let error as GuestError {
            reader.cancel()
            throw GuestErrors.map(error, sandbox: record.name.rawValue)
        }
    }
}

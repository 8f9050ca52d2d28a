import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation

/// envd's `filesystem.Filesystem` over the guest's file operations, as the sandbox's user. Relative
/// paths start in /workspace.
extension E2BEnvd {
    /// The unary calls: Stat, ListDir (to the depth asked), MakeDir, Move, Remove, and the polling
    /// watchers.
    func filesystem(_ method: String, _ body: [UInt8], _ record: SandboxRecord) async throws -> [UInt8] {
        let ref = SandboxRef(record.id.rawValue, owner: record.userID ?? "")
        let sandbox = record.id.rawValue
        switch method {
        case "Stat":
            let path = Self.absolute(try EnvdFilesystem.PathRequest(protoJSON: body).path)
            let info = try await service.withGuest(ref) { try await $0.stat(path) }
            return Self.entryResponse(info, path: path)
        case "ListDir":
            let message = try EnvdFilesystem.ListDirRequest(protoJSON: body)
            let path = Self.absolute(message.path)
            let entries = try await service.withGuest(ref) { try await Self.walk(path, depth: max(1, Int(message.depth)), in: $0) }
            return EnvdFilesystem.ListDirResponse(entries: entries).protoJSON()
        case "MakeDir":
            let path = Self.absolute(try EnvdFilesystem.MakeDirRequest(protoJSON: body).path)
            let info = try await service.withGuest(ref) { guest in
                guard try await guest.makeDirectory(path) else { throw ConnectError(.alreadyExists, "\(path) already exists") }
                return try await guest.stat(path)
            }
            return Self.entryResponse(info, path: path)
        case "Move":
            let message = try EnvdFilesystem.MoveRequest(protoJSON: body)
            let (source, destination) = (Self.absolute(message.source), Self.absolute(message.destination))
            let info = try await service.withGuest(ref) { guest in
                try await guest.move(from: source, to: destination)
                return try await guest.stat(destination)
            }
            return Self.entryResponse(info, path: destination)
        case "Remove":
            let path = Self.absolute(try EnvdFilesystem.RemoveRequest(protoJSON: body).path)
            try await service.withGuest(ref) { try await $0.remove(path) }
            return EnvdFilesystem.RemoveResponse().protoJSON()
        case "CreateWatcher":
            let message = try EnvdFilesystem.CreateWatcherRequest(protoJSON: body)
            let (watch, release) = try await openWatch(message, ref)
            guard let id = await watchers.add(sandbox: sandbox, watch: watch, release: release) else {
                throw ConnectError(.unavailable, "the daemon is stopping")
            }
            return EnvdFilesystem.CreateWatcherResponse(watcherID: id).protoJSON()
        case "GetWatcherEvents":
            let id = try EnvdFilesystem.GetWatcherEventsRequest(protoJSON: body).watcherID
            return EnvdFilesystem.GetWatcherEventsResponse(events: try await watchers.take(sandbox: sandbox, id: id)).protoJSON()
        case "RemoveWatcher":
            let id = try EnvdFilesystem.RemoveWatcherRequest(protoJSON: body).watcherID
            guard await watchers.remove(sandbox: sandbox, id: id) else { throw ConnectError(.notFound, "no watcher \(id)") }
            return EnvdFilesystem.RemoveWatcherResponse().protoJSON()
        default:
            throw ConnectError(.unimplemented, "filesystem.Filesystem/\(method) is not supported by bhatti's envd")
        }
    }

    /// `WatchDir` (server streaming, the async SDK's `watch_dir`): a start event, then each change,
    /// until the client goes away or the watch ends; the sandbox is held hot meanwhile.
    func watchDir(_ request: HTTPRequest, _ record: SandboxRecord) -> HTTPResponse {
        if let refusal = Self.refusingUnary(request, "WatchDir") { return refusal }
        let message: EnvdFilesystem.WatchDirRequest
        do { message = try Self.onlyMessage(EnvdFilesystem.WatchDirRequest.self, of: request) } catch { return Self.stream(error: error) }
        let ref = SandboxRef(record.id.rawValue, owner: record.userID ?? "")
        let env = self
        let output = ResponseStream { output in
            let watch: any GuestWatch
            let release: @Sendable () async -> Void
            do { (watch, release) = try await env.openWatch(message, ref) } catch {
                _ = await output.send(ConnectEndStream(error: Self.connectError(error)).envelope().encoded())
                return
            }
            var ending = ConnectEndStream()
            if await output.send(ConnectEnvelope(message: EnvdFilesystem.WatchDirResponse(.start)).encoded()) {
                do {
                    for try await event in watch.events {
                        let envelope = ConnectEnvelope(message: EnvdFilesystem.WatchDirResponse(.filesystem(Self.filesystemEvent(event))))
                        guard await output.send(envelope.encoded()) else { break }
                    }
                } catch {
                    ending = ConnectEndStream(error: Self.connectError(error))
                }
            }
            watch.close()
            await release()
            _ = await output.send(ending.envelope().encoded())
        }
        var response = HTTPResponse(status: 200, body: .stream(output))
        response.headers.set("Content-Type", ConnectContentType.streamingJSON)
        return response
    }

    /// A guest watch, the sandbox woken and held hot until `release` is called.
    private func openWatch(_ message: EnvdFilesystem.WatchRequest, _ ref: SandboxRef) async throws -> (
        any GuestWatch, @Sendable () async -> Void
    ) {
        let path = Self.absolute(message.path)
        let (record, watch) = try await service.holding(ref) { try await $0.watch(path: path, recursive: message.recursive) }
        let service = self.service
        return (watch, { await service.release(record.id) })
    }

    /// Stat's, MakeDir's and Move's answer: `{"entry":{…}}`.
    static func entryResponse(_ info: GuestFileInfo, path: String) -> [UInt8] {
        EnvdFilesystem.EntryResponse(entry: entry(info, path: path)).protoJSON()
    }

    /// The most entries one ListDir answers; a deeper walk than that is refused, not cut short.
    static let maxListedEntries = 10_000

    /// `path`'s entries to `depth` levels (1: its own), depth first in name order, each directory's
    /// entries right after it, as envd walks. A directory reached through a symlink is walked too (the
    /// guest's listing follows links): `depth` and the entry limit bound a loop.
    static func walk(_ path: String, depth: Int, in guest: any SandboxGuest) async throws -> [EnvdFilesystem.EntryInfo] {
        var entries: [EnvdFilesystem.EntryInfo] = []
        func visit(_ directory: String, level: Int) async throws {
            let base = directory.hasSuffix("/") ? directory : directory + "/"
            for info in try await guest.list(directory).entries {
                guard entries.count < maxListedEntries else {
                    throw ConnectError(
                        .resourceExhausted, "\(path) holds more than \(maxListedEntries) entries to depth \(depth): ask for less")
                }
                entries.append(entry(info, path: base + info.name))
                if info.isDir, level < depth { try await visit(base + info.name, level: level + 1) }
            }
        }
        try await visit(path, level: 1)
        return entries
    }

    static func entry(_ info: GuestFileInfo, path: String) -> EnvdFilesystem.EntryInfo {
        EnvdFilesystem.EntryInfo(
            name: info.name, type: info.isDir ? .directory : .file, path: path, size: Int64(info.size),
            mode: UInt32(info.mode, radix: 8) ?? 0, permissions: info.mode, modifiedTime: Timestamp(seconds: Int64(info.mtime)))
    }

    static func filesystemEvent(_ event: GuestWatchEvent) -> EnvdFilesystem.FilesystemEvent {
        let type: EnvdFilesystem.EventType =
            switch event.kind {
            case .create: .create
            case .write: .write
            case .remove: .remove
            case .rename: .rename
            case .chmod: .chmod
            }
        return EnvdFilesystem.FilesystemEvent(name: event.name, type: type)
    }
}

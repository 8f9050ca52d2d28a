public import BhattiWire
import Foundation
import Synchronization

extension AgentConnection {
    /// Reads a file (whole, or truncated by `offset`/`limit`/`max_bytes`), handing each chunk to
    /// `onChunk` as it arrives; returns the file's total size and mode.
    ///
    /// - Throws: `AgentError.remote` (not_found, bad_request for a directory, permission_denied…),
    ///   `.disconnected`, or `CancellationError`.
    public func readFile(_ request: FileReadRequest, onChunk: @Sendable ([UInt8]) -> Void) async throws -> FileReadInfo {
        try await readFile(request, onInfo: { _ in }, onChunk: { onChunk($0) })
    }

    /// Reads a whole (or truncated) file into memory.
    public func readFile(_ request: FileReadRequest) async throws -> (FileReadInfo, [UInt8]) {
        let collected = Mutex<[UInt8]>([])
        let info = try await readFile(request) { chunk in collected.withLock { $0 += chunk } }
        return (info, collected.withLock { $0 })
    }

    /// Streams a read: `onInfo` once before any data (the size, for response headers), then `onChunk`
    /// per chunk. Credit goes back only after `onChunk` returns, so a slow consumer slows the guest's
    /// reader instead of piling up data here. A throw from either closure cancels the read.
    public func readFile(
        _ request: FileReadRequest, onInfo: @Sendable (FileReadInfo) async throws -> Void,
        onChunk: @Sendable ([UInt8]) async throws -> Void
    ) async throws -> FileReadInfo {
        // A consumer's throw or a bad frame ends the read: `withStream` stops the guest's reader too.
        try await withStream(.fileRead, WireJSON.encode(request)) { id, frames in
            var info: FileReadInfo?
            for try await frame in frames {
                switch frame.type {
                case .result:
                    let decoded = try WireJSON.decode(FileReadInfo.self, from: frame)
                    info = decoded
                    try await onInfo(decoded)
                case .data:
                    guard info != nil else { throw AgentError.protocolError(.malformedPayload(.data, "file data before its info")) }
                    try await onChunk(frame.payload)
                    consumed(id, frame.payload.count)
                case .end:
                    guard let info else { throw AgentError.protocolError(.malformedPayload(.end, "file end before its info")) }
                    return info
                case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default: continue
                }
            }
            try Task.checkCancellation()
            throw AgentError.disconnected
        }
    }

    /// Writes `bytes` to `path` atomically (parents created, `mode` applied); returns the new file's info.
    public func writeFile(path: String, mode: String = "0644", bytes: [UInt8]) async throws -> FileInfo {
        let source = Mutex<[UInt8]?>(bytes)
        return try await writeFile(path: path, mode: mode, size: bytes.count) {
            source.withLock { s in
                defer { s = nil }
                return s
            }
        }
    }

    /// Writes exactly `size` bytes pulled from `next` (nil: no more) to `path` atomically; for
    /// uploads that should not sit in memory whole. A throw from `next` cancels the write (the guest
    /// drops its temp file) and is rethrown.
    ///
    /// - Throws: `AgentError.remote` (bad_request on a size mismatch, resource_exhausted over 100 MiB,
    ///   permission_denied…), `.disconnected`, `CancellationError`, or what `next` threw.
    public func writeFile(
        path: String, mode: String = "0644", size: Int, from next: @escaping @Sendable () async throws -> [UInt8]?
    ) async throws -> FileInfo {
        let request = FileWriteRequest(path: path, mode: mode, size: size)
        return try await withStream(.fileWrite, WireJSON.encode(request)) { id, frames in
            // Data goes out while we listen, so an early refusal (too large, bad path) ends the wait at
            // once; closing the stream then wakes the sender if it is waiting for credit.
            let sender = Task<(any Error)?, Never> {
                do {
                    while let chunk = try await next() { try await sendMetered(id, .data, chunk) }
                    try send(Frame(stream: id, type: .end))
                    return nil
                } catch let error as AgentError {
                    return error  // the stream closed under us: the frames below say why
                } catch {
                    try? send(Frame(stream: id, type: .kill))
                    closeStream(id)
                    return error
                }
            }
            defer { sender.cancel() }
            for try await frame in frames {
                switch frame.type {
                case .result: return try WireJSON.decode(FileInfo.self, from: frame)
                case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default: continue
                }
            }
            try Task.checkCancellation()
            // The stream closed without a reply: the producer failed (and closed it), or the channel dropped.
            if let error = await sender.value, !(error is AgentError) { throw error }
            throw AgentError.disconnected
        }
    }

    /// Stats `path` in the guest (a final symlink is followed).
    public func stat(_ path: String) async throws -> FileInfo {
        try await request(.fileStat, WireJSON.encode(PathRequest(path: path)), as: FileInfo.self)
    }

    /// Lists a directory in the guest: entries sorted by name, at most 10,000 (`truncated`, `total`).
    public func list(_ path: String) async throws -> FileListing {
        try await request(.fileList, WireJSON.encode(PathRequest(path: path)), as: FileListing.self)
    }

    /// mkdir -p in the guest; false when `path` already was a directory.
    ///
    /// - Throws: `AgentError.remote` (bad_request when something else is in the way),
    ///   `.unsupported` for an agent without `file_ops`, `.disconnected`, `CancellationError`.
    public func makeDirectory(_ path: String) async throws -> Bool {
        try require(AgentCapability.fileOperations, for: "make directories")
        return try await request(.fileMakeDirectory, WireJSON.encode(PathRequest(path: path)), as: MakeDirectoryReply.self).created
    }

    /// Renames `source` to `destination` in the guest (rename(2); the destination's parents are made).
    ///
    /// - Throws: `AgentError.remote` (not_found for a missing source, bad_request for a move across
    ///   file systems or onto a non-empty directory), `.unsupported`, `.disconnected`, `CancellationError`.
    public func move(from source: String, to destination: String) async throws {
        try require(AgentCapability.fileOperations, for: "move files")
        let request = MoveRequest(source: source, destination: destination)
        _ = try await self.request(.fileMove, WireJSON.encode(request), as: Empty.self)
    }

    /// Removes `path` in the guest, and everything below it when it is a directory.
    ///
    /// - Throws: `AgentError.remote` (not_found when missing), `.unsupported`, `.disconnected`,
    ///   `CancellationError`.
    public func remove(_ path: String) async throws {
        try require(AgentCapability.fileOperations, for: "remove files")
        _ = try await request(.fileRemove, WireJSON.encode(PathRequest(path: path)), as: Empty.self)
    }
}

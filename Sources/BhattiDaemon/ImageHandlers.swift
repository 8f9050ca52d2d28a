import BhattiAPI
import BhattiCore
import BhattiHTTP
import BhattiImage
import BhattiSystem
import Foundation
import Glibc

/// `/v1/images`: the registry's answers as DTOs. A private image of another user is a 404 (the registry's).
enum ImageHandlers {
    static func list(_ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        try json(await images.list(visibleTo: caller.owner).map { dto($0, packages: false, images: images) })
    }

    static func inspect(_ name: String, _ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        try json(dto(try await images.find(name, visibleTo: caller.owner), packages: true, images: images))
    }

    static func delete(_ name: String, _ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        try await images.delete(name, by: caller.owner, isAdmin: caller.isAdmin)
        await images.collectBases()
        return try json(StatusDTO(status: "deleted"))
    }

    /// `POST /v1/images/{name}/import`: the body (an `oci-archive` or `docker-archive` tar, streamed)
    /// goes to a file under `<data-dir>/images/`, then becomes image `name`: private to the caller,
    /// public when the admin imports it. 400 for an archive the import refuses, 409 for a name taken.
    /// With `Accept: application/x-ndjson` the import after the upload is reported line by line
    /// (`ImportStreamLine`), its outcome last.
    static func importImage(_ name: String, _ request: HTTPRequest, _ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        guard let stream = request.bodyStream else {
            throw BhattiError(.invalidArgument, "an image import needs the archive as a Content-Length body (chunked bodies are refused)")
        }
        try await images.beginImport(name)
        let upload = images.root + "/.upload-\(name)-\(UInt32.random(in: 0...UInt32.max)).tar"
        do { try await receive(stream, into: upload) } catch {
            unlink(upload)
            await images.endImport(name)
            throw error
        }
        let owner = caller.isAdmin ? nil : caller.owner
        if request.headers["Accept"]?.contains(APIVersion.ndjson) == true {
            return streamedImport(upload, as: name, owner: owner, images: images)
        }
        let entry = try await finishImport(upload, as: name, owner: owner, images: images)
        return try json(dto(entry, packages: false, images: images), status: 201)
    }

    /// Makes the image from the received upload, then removes the upload and the name's claim,
    /// whatever the outcome.
    private static func finishImport(
        _ upload: String, as name: String, owner: String?, images: ImageRegistry,
        progress: @escaping @Sendable (ImportEvent) -> Void = { _ in }
    ) async throws -> ImageEntry {
        do {
            let entry = try await images.importArchive(upload, as: name, owner: owner, progress: progress)
            unlink(upload)
            await images.endImport(name)
            return entry
        } catch {
            unlink(upload)
            await images.endImport(name)
            throw error
        }
    }

    /// The import as NDJSON: progress lines while it works (only the newest few are kept for a slow
    /// reader), then its outcome. The import runs to its end even when the client goes away: it is
    /// on a thread of its own, and a half-made image is never left.
    private static func streamedImport(_ upload: String, as name: String, owner: String?, images: ImageRegistry) -> HTTPResponse {
        let output = ResponseStream { output in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
            let send: @Sendable (ImportStreamLine) async -> Void = { line in
                var bytes = (try? Array(encoder.encode(line))) ?? []
                bytes.append(UInt8(ascii: "\n"))
                _ = await output.send(bytes)
            }
            let (events, sink) = AsyncStream.makeStream(of: ImportEvent.self, bufferingPolicy: .bufferingNewest(8))
            async let outcome: Result<ImageEntry, any Error> = {
                defer { sink.finish() }
                do { return .success(try await finishImport(upload, as: name, owner: owner, images: images) { sink.yield($0) }) } catch {
                    return .failure(error)
                }
            }()
            for await event in events {
                switch event {
                case .unpacking(let p):
                    await send(
                        ImportStreamLine(
                            type: "progress", bytesRead: p.bytesRead, bytesTotal: p.totalBytes, layersDone: p.layersDone,
                            layers: p.layerCount))
                case .step(let message): await send(ImportStreamLine(type: "step", message: message))
                }
            }
            switch await outcome {
            case .success(let entry): await send(ImportStreamLine(type: "image", image: dto(entry, packages: false, images: images)))
            case .failure(let error):
                let failure = error as? BhattiError ?? BhattiError(.internal, "import \(name)", cause: error)
                if failure.code == .internal { images.log.error("image.import_failed", ["image": name, "error": failure.description]) }
                await send(
                    ImportStreamLine(
                        type: "error", message: failure.code == .internal ? "internal error" : failure.message,
                        status: HTTPStatusMapping.status(for: failure.code), code: failure.code.rawValue))
            }
        }
        var response = HTTPResponse(status: 200, body: .stream(output))
        response.headers.set("Content-Type", APIVersion.ndjson)
        return response
    }

    /// Writes the body to a new file (mode 0600), chunk by chunk as it arrives.
    private static func receive(_ stream: RequestBodyStream, into path: String) async throws {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BhattiError(.internal, "cannot create \(path)", cause: Errno.current) }
        let file = FileDescriptor(rawValue: fd)
        defer { file.close() }
        while let chunk = try await stream.next() {
            do { try chunk.withUnsafeBytes { try file.writeAllFile($0) } } catch {
                throw BhattiError(.insufficientStorage, "cannot write the upload to \(path)", cause: error)
            }
        }
    }

    static func dto(_ entry: ImageEntry, packages: Bool, images: ImageRegistry) -> ImageDTO {
        let manifest = entry.image.manifest
        return ImageDTO(
            name: entry.name, visibility: entry.owner == nil ? "public" : "private", source: entry.source, diskMB: entry.diskMB,
            kernelVersion: manifest.kernelVersion, createdAt: entry.createdAt.map(iso8601), env: entry.env,
            workingDir: entry.workingDirectory, user: entry.user, packageCount: manifest.packages.count,
            packages: packages ? manifest.packages : nil,
            isDefault: images.isDefault(entry))
    }
}

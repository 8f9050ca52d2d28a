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
        try json(await images.list(visibleTo: caller.owner).map { dto($0, packages: false) })
    }

    static func inspect(_ name: String, _ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        try json(dto(try await images.find(name, visibleTo: caller.owner), packages: true))
    }

    static func delete(_ name: String, _ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        try await images.delete(name, by: caller.owner, isAdmin: caller.isAdmin)
        await images.collectBases()
        return try json(StatusDTO(status: "deleted"))
    }

    /// `POST /v1/images/{name}/import`: the body (an `oci-archive` or `docker-archive` tar, streamed)
    /// goes to a file under `<data-dir>/images/`, then becomes image `name`: private to the caller,
    /// public when the admin imports it. 400 for an archive the import refuses, 409 for a name taken.
    static func importImage(_ name: String, _ request: HTTPRequest, _ images: ImageRegistry, caller: Caller) async throws -> HTTPResponse {
        guard let stream = request.bodyStream else {
            throw BhattiError(.invalidArgument, "an image import needs the archive as a Content-Length body (chunked bodies are refused)")
        }
        try await images.beginImport(name)
        let upload = images.root + "/.upload-\(name)-\(UInt32.random(in: 0...UInt32.max)).tar"
        do {
            try await receive(stream, into: upload)
            let entry = try await images.importArchive(upload, as: name, owner: caller.isAdmin ? nil : caller.owner)
            unlink(upload)
            await images.endImport(name)
            return try json(dto(entry, packages: false), status: 201)
        } catch {
            unlink(upload)
            await images.endImport(name)
            throw error
        }
    }

    /// Writes the body to a new file (mode 0600), chunk by chunk as it arrives.
    private static func receive(_ stream: RequestBodyStream, into path: String) async throws {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BhattiError(.internal, "cannot create \(path)", cause: Errno.current) }
        defer { close(fd) }
        while let chunk = try await stream.next() {
            var done = 0
            while done < chunk.count {
                let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw BhattiError(.insufficientStorage, "cannot write the upload to \(path)", cause: Errno.current) }
                done += n
            }
        }
    }

    static func dto(_ entry: ImageEntry, packages: Bool) -> ImageDTO {
        let manifest = entry.image.manifest
        return ImageDTO(
            name: entry.name, visibility: entry.owner == nil ? "public" : "private", source: entry.source, diskMB: entry.diskMB,
            kernelVersion: manifest.kernelVersion, createdAt: entry.createdAt.map(iso8601), env: entry.env,
            workingDir: entry.workingDirectory, packageCount: manifest.packages.count, packages: packages ? manifest.packages : nil)
    }
}

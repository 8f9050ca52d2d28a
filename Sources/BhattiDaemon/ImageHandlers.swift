import BhattiAPI
import BhattiHTTP
import BhattiImage
import Foundation

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

    static func dto(_ entry: ImageEntry, packages: Bool) -> ImageDTO {
        let manifest = entry.image.manifest
        return ImageDTO(
            name: entry.name, visibility: entry.owner == nil ? "public" : "private", source: entry.source, diskMB: entry.diskMB,
            kernelVersion: manifest.kernelVersion, createdAt: entry.createdAt.map(iso8601), env: entry.env,
            workingDir: entry.workingDirectory, packageCount: manifest.packages.count, packages: packages ? manifest.packages : nil)
    }
}

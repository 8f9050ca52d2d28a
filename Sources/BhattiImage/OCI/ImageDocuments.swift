import Foundation

/// The JSON documents of an OCI layout and a docker archive, as far as the importer reads them.
enum OCIDocuments {
    struct Platform: Decodable {
        var architecture: String
        var os: String
    }

    struct Descriptor: Decodable {
        var mediaType: String?
        var digest: String
        var size: UInt64
        var platform: Platform?
    }

    /// `index.json`, or an image index blob.
    struct Index: Decodable {
        var mediaType: String?
        var manifests: [Descriptor]
    }

    struct Manifest: Decodable {
        var mediaType: String?
        var config: Descriptor
        var layers: [Descriptor]
    }

    /// One entry of a docker archive's `manifest.json`.
    struct DockerEntry: Decodable {
        var Config: String
        var Layers: [String]
    }

    /// The image config (same shape in OCI and docker).
    struct Config: Decodable {
        struct Run: Decodable {
            var Env: [String]?
            var Entrypoint: [String]?
            var Cmd: [String]?
            var WorkingDir: String?
            var User: String?
        }
        struct RootFS: Decodable {
            var diff_ids: [String]?
        }
        var architecture: String?
        var os: String?
        var config: Run?
        var rootfs: RootFS?
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], file: String) throws(ImportError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw .malformedJSON(file: file, detail: Self.explain(error))
        }
    }

    /// DecodingError's description is a wall of text; the missing key or the path is what helps.
    private static func explain(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            let at = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "missing \(at.isEmpty ? "" : at + ".")\(key.stringValue)"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "not JSON" : "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default:
            return "\(error)"
        }
    }
}

/// `sha256:<64 lower-case hex>`: the only digest form accepted, which also keeps blob paths tame.
enum Digest {
    static func hex(_ digest: String, file: String) throws(ImportError) -> String {
        let parts = digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { throw .malformedJSON(file: file, detail: "digest \(digest) is not algorithm:hex") }
        guard parts[0] == "sha256" else { throw .unsupportedMediaType("digest algorithm \(parts[0]) (only sha256)") }
        let hex = parts[1]
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .malformedJSON(file: file, detail: "digest \(digest) is not 64 lower-case hex digits")
        }
        return String(hex)
    }
}

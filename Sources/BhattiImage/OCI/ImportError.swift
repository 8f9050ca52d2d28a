/// Why an image archive was not imported. Every case but `io` is the archive's fault (a 400 for the
/// API); each says which file, blob, layer or entry, so the user can find it.
public enum ImportError: Error, CustomStringConvertible {
    /// The file is not a tar archive at all (`detail` says what was seen instead).
    case notTar(String)
    /// The tar (the outer archive, or a layer inside it) ends in the middle of `what`.
    case truncated(String)
    /// A tar header is malformed (bad checksum, a number that does not parse, an unknown entry type).
    case corruptTar(String)
    /// A tar, but neither an OCI layout (`index.json`) nor a docker archive (`manifest.json`).
    case notAnImage(String)
    /// A JSON document (index, manifest, config) is missing a field or does not decode.
    case malformedJSON(file: String, detail: String)
    /// A manifest or index names a blob the archive does not hold.
    case missingBlob(String)
    /// A blob's (or an uncompressed layer's) sha256 is not the one its manifest or config names.
    case digestMismatch(what: String, expected: String, actual: String)
    /// A blob's size is not the one its descriptor names.
    case sizeMismatch(what: String, expected: UInt64, actual: UInt64)
    /// A layer or manifest media type this importer does not take (zstd layers, foreign artifacts).
    case unsupportedMediaType(String)
    /// The image is not for linux/amd64 (or the index has no manifest for it).
    case unsupportedPlatform(String)
    /// A layer's entry that would leave the image tree or is otherwise refused (`reason` says how).
    case unsafeEntry(layer: Int, path: String, reason: String)
    /// The unpacked layers exceed `limit` bytes (a decompression bomb, or simply too big an image).
    case tooLarge(limit: UInt64)
    /// A compressed layer does not decompress (`detail` is zlib's message).
    case corruptLayer(layer: Int, detail: String)
    /// The host failed us: a file could not be read, created or removed. Not the archive's fault.
    case io(String, underlying: any Error)

    /// Whether the archive is at fault (bad input), not the host: the API answers 400 for these.
    public var isInvalidArchive: Bool {
        if case .io = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .notTar(let detail): return "not a tar archive: \(detail)"
        case .truncated(let what): return "truncated archive: it ends inside \(what)"
        case .corruptTar(let detail): return "corrupt tar: \(detail)"
        case .notAnImage(let detail): return "not an OCI or docker image archive: \(detail)"
        case .malformedJSON(let file, let detail): return "malformed \(file): \(detail)"
        case .missingBlob(let name): return "the archive has no blob \(name)"
        case .digestMismatch(let what, let expected, let actual):
            return "digest mismatch for \(what): expected \(expected), got \(actual)"
        case .sizeMismatch(let what, let expected, let actual):
            return "size mismatch for \(what): expected \(expected) bytes, got \(actual)"
        case .unsupportedMediaType(let type): return "unsupported media type \(type)"
        case .unsupportedPlatform(let detail): return "unsupported platform: \(detail) (only linux/amd64 images run here)"
        case .unsafeEntry(let layer, let path, let reason): return "layer \(layer): refused entry \(path): \(reason)"
        case .tooLarge(let limit): return "the image unpacks to more than \(limit) bytes"
        case .corruptLayer(let layer, let detail): return "layer \(layer) does not decompress: \(detail)"
        case .io(let what, let underlying): return "\(what): \(underlying)"
        }
    }
}

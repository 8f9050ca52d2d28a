import BhattiSystem
import Foundation
import Glibc

/// Which kind of archive an image came from.
public enum ImageArchiveFormat: String, Codable, Sendable {
    /// An OCI image layout in a tar (`skopeo copy … oci-archive:`, `podman save --format oci-archive`).
    case oci
    /// `docker save` (`docker-archive:`).
    case docker
}

/// The defaults an image's config declares for the processes run in it.
public struct ImageDefaults: Codable, Equatable, Sendable {
    public var env: [String]
    public var workingDir: String
    public var user: String
    public var entrypoint: [String]
    public var cmd: [String]

    public init(env: [String] = [], workingDir: String = "", user: String = "", entrypoint: [String] = [], cmd: [String] = []) {
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.entrypoint = entrypoint
        self.cmd = cmd
    }
}

/// What an import made.
public struct ImportedImage: Sendable {
    public var format: ImageArchiveFormat
    public var defaults: ImageDefaults
    /// The uncompressed layers' digests, in order (the config's diff_ids, each one checked).
    public var diffIDs: [String]
    /// Tar bytes read across all layers (what counts against the limit).
    public var unpackedBytes: UInt64
    /// Device nodes and FIFOs the layers hold, which were not created.
    public var skipped: [String]
}

public struct ImportOptions: Sendable {
    /// Above this many bytes of layer tar (all layers together) the import fails with `.tooLarge`.
    public var maximumUnpackedBytes: UInt64
    /// Keep the headers' owners; off, setuid and setgid bits are dropped too. Defaults to "running as root".
    public var preserveOwners: Bool

    /// `preserveOwners` nil: keep them when running as root.
    public init(maximumUnpackedBytes: UInt64 = 32 << 30, preserveOwners: Bool? = nil) {
        self.maximumUnpackedBytes = maximumUnpackedBytes
        self.preserveOwners = preserveOwners ?? (geteuid() == 0)
    }
}

/// How far an import is: compressed layer bytes read out of all layers' total, and layers done.
public struct ImportProgress: Equatable, Sendable {
    public var bytesRead: UInt64
    public var totalBytes: UInt64
    public var layersDone: Int
    public var layerCount: Int
}

public enum ImageArchive {
    /// Imports the archive at `archive` into a new directory `destination` (which must not exist): the
    /// image's root file system, layers applied in order with whiteouts, every blob's size and sha256
    /// checked. The tree is built in a sibling temporary directory and renamed into place only when all
    /// of it is done and verified, so a failure leaves nothing at `destination` and no partial tree.
    /// `progress` is called on this thread after each megabyte or so and after each layer.
    public static func importArchive(
        at archive: String, into destination: String, options: ImportOptions = ImportOptions(),
        progress: ((ImportProgress) -> Void)? = nil
    ) throws(ImportError) -> ImportedImage {
        var st = stat()
        if lstat(destination, &st) == 0 { throw .io("cannot import into \(destination)", underlying: Errno(rawValue: EEXIST)) }
        let index = try ArchiveIndex(path: archive)
        let plan = try ImagePlan.read(index)
        let temp = "\(destination).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(temp, 0o755) == 0 else { throw .io("cannot create \(temp)", underlying: Errno.current) }
        do throws(ImportError) {
            let result = try unpack(plan, from: index, into: temp, options: options, progress: progress)
            guard rename(temp, destination) == 0 else { throw .io("cannot rename \(temp) to \(destination)", underlying: Errno.current) }
            return result
        } catch {
            removeTree(temp)
            throw error
        }
    }

    private static func unpack(
        _ plan: ImagePlan, from index: ArchiveIndex, into root: String, options: ImportOptions,
        progress: ((ImportProgress) -> Void)?
    ) throws(ImportError) -> ImportedImage {
        let applier = try LayerApplier(root: root, limit: options.maximumUnpackedBytes, preserveOwners: options.preserveOwners)
        let members = plan.layers.map { index.member($0.member)! }
        var state = ImportProgress(
            bytesRead: 0, totalBytes: members.reduce(0) { $0 + $1.size }, layersDone: 0, layerCount: plan.layers.count)
        var reported: UInt64 = 0
        var diffIDs: [String] = []
        for (i, layer) in plan.layers.enumerated() {
            let number = i + 1
            let what = "layer \(number) (\(layer.digest ?? layer.member))"
            if let size = layer.size, size != members[i].size { throw .sizeMismatch(what: what, expected: size, actual: members[i].size) }
            let blob = DigestingSource(index.source(members[i])) { n in
                state.bytesRead += UInt64(n)
                if state.bytesRead - reported >= 1 << 20 {
                    reported = state.bytesRead
                    progress?(state)
                }
            }
            let tar = DigestingSource(layer.compression == .gzip ? try GzipSource(blob, layer: number) : blob)
            try applier.apply(tar, layer: number)
            // What follows the end-of-archive blocks is hashed too, and counts against the limit.
            do { try tar.drain(limit: options.maximumUnpackedBytes - min(applier.unpackedBytes, options.maximumUnpackedBytes)) } catch {
                if case .tooLarge = error { throw .tooLarge(limit: options.maximumUnpackedBytes) }
                throw error
            }
            try blob.drain()
            if let digest = layer.digest, blob.digest() != digest {
                throw .digestMismatch(what: what, expected: digest, actual: blob.digest())
            }
            let diffID = tar.digest()
            if let expected = layer.diffID, expected != diffID {
                throw .digestMismatch(what: "\(what) uncompressed (diff_id)", expected: expected, actual: diffID)
            }
            diffIDs.append(diffID)
            state.layersDone = number
            progress?(state)
        }
        applier.finish()
        let run = plan.config.config
        let defaults = ImageDefaults(
            env: run?.Env ?? [], workingDir: run?.WorkingDir ?? "", user: run?.User ?? "", entrypoint: run?.Entrypoint ?? [],
            cmd: run?.Cmd ?? [])
        return ImportedImage(
            format: plan.format, defaults: defaults, diffIDs: diffIDs, unpackedBytes: applier.unpackedBytes, skipped: applier.skipped)
    }

    /// Removes a half-made tree without following any symlink in it.
    private static func removeTree(_ path: String) {
        guard let tree = try? RootTree(path: path) else { return }
        try? tree.removeChildren(of: tree.root, path: "", keeping: nil)
        rmdir(path)
    }
}

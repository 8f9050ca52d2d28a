import BhattiSystem
import COpenSSL
import Foundation
import Glibc

/// What a cold snapshot left on disk: written after the device state is durable, checked before a
/// restore trusts the files (a truncated RAM file or a changed device state fails fast, not in QEMU).
struct SnapshotManifest: Codable, Equatable, Sendable {
    var stateBytes: Int
    var stateSHA256: String
    var memoryBytes: Int
    var takenAt: Date

    /// Describes the files at `paths` as they are now.
    static func describe(_ paths: VMPaths) throws -> SnapshotManifest {
        let state = try readWhole(paths.deviceState)
        return SnapshotManifest(
            stateBytes: state.count, stateSHA256: sha256Hex(state), memoryBytes: try fileSize(paths.memory), takenAt: Date())
    }

    /// Reads the manifest and checks every file against it; throws `snapshotDamaged` saying what is wrong.
    static func verified(_ paths: VMPaths, memoryMB: Int) throws -> SnapshotManifest {
        guard let data = FileManager.default.contents(atPath: paths.snapshotManifest) else {
            throw EngineError.snapshotDamaged("no snapshot manifest at \(paths.snapshotManifest)")
        }
        let manifest: SnapshotManifest
        do { manifest = try JSONDecoder().decode(SnapshotManifest.self, from: data) } catch {
            throw EngineError.snapshotDamaged("unreadable snapshot manifest \(paths.snapshotManifest): \(error)")
        }
        let expectedMemory = memoryMB << 20
        let memory = (try? fileSize(paths.memory)) ?? -1
        guard memory == expectedMemory, manifest.memoryBytes == expectedMemory else {
            throw EngineError.snapshotDamaged("RAM file \(paths.memory) is \(memory) bytes, expected \(expectedMemory)")
        }
        guard let state = try? readWhole(paths.deviceState) else {
            throw EngineError.snapshotDamaged("device state \(paths.deviceState) is missing")
        }
        guard state.count == manifest.stateBytes, sha256Hex(state) == manifest.stateSHA256 else {
            throw EngineError.snapshotDamaged(
                "device state \(paths.deviceState) does not match its manifest (\(state.count) bytes, expected \(manifest.stateBytes))")
        }
        return manifest
    }

    func write(to path: String) throws {
        let data: Data
        do { data = try JSONEncoder().encode(self) } catch { throw EngineError.io("encode \(path)", error) }
        do { try AtomicFile.write(Array(data), to: path, mode: 0o600) } catch { throw EngineError.io("write \(path)", error) }
    }
}

func fileSize(_ path: String) throws -> Int {
    var st = stat()
    guard stat(path, &st) == 0 else { throw EngineError.io("stat \(path)", Errno.current) }
    return Int(st.st_size)
}

private func readWhole(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw EngineError.io("read \(path)", Errno.noEntry) }
    return Array(data)
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
    _ = SHA256(bytes, bytes.count, &digest)
    return hexString(digest)
}

/// Makes a file's data durable and drops it from the page cache (the cold tier frees host memory).
/// Blocking: call on a dedicated thread.
func flushAndEvict(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw EngineError.io("open \(path)", Errno.current) }
    defer { close(fd) }
    guard fdatasync(fd) == 0 else { throw EngineError.io("fdatasync \(path)", Errno.current) }
    _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
}

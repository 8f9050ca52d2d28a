/// How much free space a VM needs in the data directory before it starts, and the refusal when there is
/// less: a QEMU whose RAM file or disk cannot grow dies of SIGBUS mid-run, and the store (on the same
/// disk) can then not record it.
public enum StorageBudget {
    /// What a running guest's disk and the daemon's own files (store, logs) may grow by, besides RAM.
    public static let headroomBytes: UInt64 = 256 << 20

    /// Bytes a VM needs before it starts: its RAM file's part not yet on disk, plus the headroom.
    public static func needed(memoryMB: Int, ramBytesOnDisk: UInt64 = 0) -> UInt64 {
        let ram = UInt64(max(0, memoryMB)) << 20
        return (ram > ramBytesOnDisk ? ram - ramBytesOnDisk : 0) + headroomBytes
    }

    /// Refuses with 507 `insufficient_storage` when `free` is less than `needed` (nil: unknown, allowed).
    public static func check(free: UInt64?, needed: UInt64, directory: String, for what: String) throws(BhattiError) {
        guard let free, free < needed else { return }
        throw BhattiError(
            .insufficientStorage,
            "not enough free space in \(directory) to \(what): \(mebibytes(free)) free, \(mebibytes(needed)) needed (its RAM file and \(mebibytes(headroomBytes)) for disk growth)"
        )
    }

    public static func mebibytes(_ bytes: UInt64) -> String { "\(bytes >> 20) MiB" }
}

public import BhattiSystem
import Glibc

/// PID 1's duties before serving: mounts, hostname, loopback, signals, the agent's port.
public enum GuestBoot {
    /// The virtio-serial port name the host attaches the agent channel to.
    public static let portName = "bhatti.agent"

    /// Mounts the API filesystems. Already-mounted ones (moved over by the initramfs) are fine.
    public static func mountFilesystems() {
        let mounts: [(String, String, String, UInt, String?)] = [
            ("proc", "/proc", "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil),
            ("sysfs", "/sys", "sysfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil),
            ("devtmpfs", "/dev", "devtmpfs", UInt(MS_NOSUID), "mode=0755"),
            ("devpts", "/dev/pts", "devpts", UInt(MS_NOSUID | MS_NOEXEC), "newinstance,ptmxmode=0666,mode=0620,gid=5"),
            ("tmpfs", "/dev/shm", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=1777"),
            ("tmpfs", "/tmp", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=1777"),
            ("tmpfs", "/run", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755"),
        ]
        for (source, target, type, flags, data) in mounts {
            mkdir(target, 0o755)
            do {
                try Machine.mount(source: source, target: target, type: type, flags: flags, data: data)
            } catch  where error == Errno(rawValue: EBUSY) {
                continue
            } catch {
                log("mount \(target): \(error)")
            }
        }
        // /dev/ptmx must point into the new devpts instance.
        unlink("/dev/ptmx")
        symlink("pts/ptmx", "/dev/ptmx")
    }

    /// Opens the agent's virtio-serial port, found by name under /sys/class/virtio-ports.
    /// Waits up to `timeoutMilliseconds` for the device to appear.
    public static func openPort(named name: String = portName, timeoutMilliseconds: Int = 10_000) -> FileDescriptor? {
        var waited = 0
        while waited <= timeoutMilliseconds {
            if let dir = opendir("/sys/class/virtio-ports") {
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let node = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    if node.hasPrefix(".") { continue }
                    guard readFile("/sys/class/virtio-ports/\(node)/name")?.trimmingNewlines == name else { continue }
                    let fd = open("/dev/\(node)", O_RDWR | O_CLOEXEC)
                    if fd >= 0 { return FileDescriptor(rawValue: fd) }
                }
            }
            usleep(5000)
            waited += 5
        }
        return nil
    }

    /// Writes a line to the console (lohar's stdout is /dev/console as PID 1).
    public static func log(_ message: String) {
        let line = Array("lohar: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let f = FileDescriptor(rawValue: fd)
        guard let bytes = try? f.read(upTo: 4096) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    var trimmingNewlines: String {
        var s = Substring(self)
        while s.last == "\n" || s.last == "\r" { s = s.dropLast() }
        return String(s)
    }
}

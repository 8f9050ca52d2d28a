import BhattiSystem
import Foundation
import Glibc

/// Runs host tools synchronously and captures their output (the builder is a one-shot CLI step).
///
/// BhattiSystem's `Spawn` (fork+exec in C) plus `waitpid` on that one pid, rather than Foundation's
/// `Process`: no SIGCHLD handler or run loop is installed, so this is also safe inside the daemon.
struct CommandRunner: Sendable {
    let tools: HostTools

    /// What a finished command printed.
    struct Result {
        var stdout: String
        var stderr: String
        var status: Int32
    }

    /// Runs `tool` (a name looked up on the search path, or an absolute path) and returns its stdout;
    /// throws `commandFailed` with the tail of stderr+stdout on a non-zero exit.
    @discardableResult
    func output(_ tool: String, _ arguments: [String], in directory: String? = nil) throws(ImageError) -> String {
        let result = try run(tool, arguments, in: directory)
        guard result.status == 0 else {
            throw .commandFailed(
                command: Self.display(tool, arguments), status: result.status,
                output: Self.tail(result.stderr + result.stdout))
        }
        return result.stdout
    }

    /// Runs `tool` and returns its output and status without judging the status.
    func run(_ tool: String, _ arguments: [String], in directory: String? = nil) throws(ImageError) -> Result {
        let path = tool.hasPrefix("/") ? tool : try tools.path(tool)
        let command = Self.display(tool, arguments)
        // Temporary files rather than pipes: nothing to drain concurrently, so no pipe-full deadlock.
        let out = try TempFile(purpose: command)
        let err = try TempFile(purpose: command)
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }

        var spawn = Spawn(path: path, arguments: [tool] + arguments, environment: environment(), workingDirectory: directory)
        spawn.standardInput = devNull
        spawn.standardOutput = out.fd
        spawn.standardError = err.fd
        let termination: Termination
        do {
            let pid = try Self.run(spawn)
            termination = try waitForExit(pid: pid)
        } catch {
            throw .io("cannot run \(command)", underlying: error)
        }
        return Result(stdout: try out.contents(), stderr: try err.contents(), status: termination.exitCode)
    }

    /// Spawns, retrying a while on ETXTBSY: an executable written just before (a fetched tool, or a
    /// test's stand-in) is still open for writing in any child another thread forked meanwhile, until
    /// that child execs. The kernel refuses to run it for that moment only.
    static func run(_ spawn: Spawn) throws(Errno) -> Int32 {
        var attempts = 0
        while true {
            do { return try spawn.run() } catch  where error.rawValue == ETXTBSY && attempts < 100 {
                attempts += 1
                usleep(10_000)
            }
        }
    }

    /// The caller's environment with a known PATH, locale and a non-interactive debconf.
    private func environment() -> [String] {
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = tools.searchPath
        env["LC_ALL"] = "C"
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return env.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// A shell-like rendering for messages.
    static func display(_ tool: String, _ arguments: [String]) -> String {
        ([tool] + arguments).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// The last lines of a command's output: enough to see the error, not debootstrap's whole log.
    static func tail(_ text: String, lines: Int = 30) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// An unlinked temporary file: created, immediately removed from the namespace, read back by fd.
private final class TempFile {
    let fd: Int32

    init(purpose: String) throws(ImageError) {
        var template = Array("/tmp/bhatti-image-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .io("cannot create a temporary file for \(purpose)", underlying: Errno.current) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        // Other threads of the daemon may fork; this fd is ours alone.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        self.fd = fd
    }

    deinit { close(fd) }

    /// Everything written so far, decoded as UTF-8 (lossily: tools may print any bytes).
    func contents() throws(ImageError) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read command output", underlying: Errno.current)
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

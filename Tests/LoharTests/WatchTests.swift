import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Glibc
import Testing

/// Directory watches through the real agent handlers, on real inotify. Serialized: the leak checks
/// count this process's inotify descriptors.
@Suite("Directory watches through the real agent handlers", .serialized)
struct WatchTests {
    /// Collects a watch's events on a task of its own; the waits poll with deadlines that only turn a
    /// hang into a failure.
    final class Seen: Sendable {
        private let state = Locked<(events: [WatchEvent], end: Result<Void, any Error>?)>((events: [], end: nil))
        private let task: Task<Void, Never>

        init(_ watch: AgentWatch) {
            let state = self.state
            task = Task {
                do {
                    for try await event in watch.events { state.with { $0.events.append(event) } }
                    state.with { $0.end = .success(()) }
                } catch {
                    state.with { $0.end = .failure(error) }
                }
            }
        }

        var events: [WatchEvent] { state.with { $0.events } }
        var end: Result<Void, any Error>? { state.with { $0.end } }

        /// Waits until `expected` has been seen in this order (other events may come between).
        func waitFor(_ expected: [WatchEvent]) async -> Bool {
            await eventually(timeout: .seconds(120)) { Self.inOrder(expected, in: self.events) }
        }

        func waitForEnd() async -> Result<Void, any Error>? {
            _ = await eventually(timeout: .seconds(120)) { self.end != nil }
            return end
        }

        static func inOrder(_ expected: [WatchEvent], in events: [WatchEvent]) -> Bool {
            var rest = expected[...]
            for event in events where event == rest.first { rest = rest.dropFirst() }
            return rest.isEmpty
        }

        deinit { task.cancel() }
    }

    /// This process's open inotify descriptors.
    static func inotifyDescriptors() -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.count { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == "anon_inode:inotify" }
    }

    static func sh(_ h: AgentHarness, _ script: String) async throws {
        let (status, _, err) = try await h.run(["sh", "-c", script])
        #expect(status.code == 0, "\(script): \(err)")
    }

    @Test("a missing path is not found, a file is a bad request")
    func refusals() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let file = try dir.file("f", "x")
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.watch(WatchRequest(path: dir.path + "/no", recursive: false)) }
                == .notFound)
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.watch(WatchRequest(path: file, recursive: true)) } == .badRequest)
    }

    @Test("create, write, chmod, rename and remove in the directory, named relative to it")
    func events() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let watch = try await h.connection.watch(WatchRequest(path: dir.path, recursive: false))
        defer { watch.close() }
        let seen = Seen(watch)
        try await Self.sh(h, "cd \(dir.path) && echo hi > a && chmod 600 a && mv a b && rm b && mkdir d && touch d/inner")
        #expect(
            await seen.waitFor([
                WatchEvent(kind: .create, name: "a"), WatchEvent(kind: .write, name: "a"), WatchEvent(kind: .chmod, name: "a"),
                WatchEvent(kind: .rename, name: "a"), WatchEvent(kind: .create, name: "b"), WatchEvent(kind: .remove, name: "b"),
                WatchEvent(kind: .create, name: "d"),
            ]), "\(seen.events)")
        try await Self.sh(h, "touch \(dir.path)/last")
        #expect(await seen.waitFor([WatchEvent(kind: .create, name: "last")]))
        // Not recursive: nothing from inside d.
        #expect(!seen.events.contains { $0.name.hasPrefix("d/") }, "\(seen.events)")
    }

    @Test("recursive: directories there before and made after, a new tree's contents, a moved directory's new name")
    func recursive() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        try await Self.sh(h, "mkdir -p \(dir.path)/old/deep")
        let watch = try await h.connection.watch(WatchRequest(path: dir.path, recursive: true))
        defer { watch.close() }
        let seen = Seen(watch)
        try await Self.sh(h, "cd \(dir.path) && echo x > old/deep/f && mkdir new")
        // Once a new directory's create is seen, it is watched: every change in it is reported.
        #expect(
            await seen.waitFor([
                WatchEvent(kind: .create, name: "old/deep/f"), WatchEvent(kind: .write, name: "old/deep/f"),
                WatchEvent(kind: .create, name: "new"),
            ]), "\(seen.events)")
        try await Self.sh(h, "cd \(dir.path) && echo y > new/g && mv new/g new/h && rm new/h")
        #expect(
            await seen.waitFor([
                WatchEvent(kind: .create, name: "new/g"), WatchEvent(kind: .write, name: "new/g"), WatchEvent(kind: .rename, name: "new/g"),
                WatchEvent(kind: .create, name: "new/h"), WatchEvent(kind: .remove, name: "new/h"),
            ]), "\(seen.events)")
        // A tree made in one go: what was in it before its watch began is reported as made.
        try await Self.sh(h, "mkdir -p \(dir.path)/t/u/v && touch \(dir.path)/t/u/v/w")
        #expect(await seen.waitFor([WatchEvent(kind: .create, name: "t")]))
        #expect(await seen.waitFor([WatchEvent(kind: .create, name: "t/u/v/w")]), "\(seen.events)")
        // A directory moved within the tree is watched under its new name.
        try await Self.sh(h, "mv \(dir.path)/old \(dir.path)/renamed && touch \(dir.path)/renamed/deep/z")
        #expect(
            await seen.waitFor([
                WatchEvent(kind: .rename, name: "old"), WatchEvent(kind: .create, name: "renamed"),
                WatchEvent(kind: .create, name: "renamed/deep/z"),
            ]), "\(seen.events)")
        #expect(!seen.events.contains { $0.name.hasPrefix("old/deep/z") })
    }

    @Test("a burst of events arrives whole and in order")
    func burst() async throws {
        let dir = try TransferSupport.TempDir(under: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        defer { dir.remove() }
        let h = try await AgentHarness.start()
        let watch = try await h.connection.watch(WatchRequest(path: dir.path, recursive: false))
        defer { watch.close() }
        let seen = Seen(watch)
        let count = 3000
        for i in 0..<count { close(open(dir.path + "/f\(i)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)) }
        #expect(await eventually(timeout: .seconds(120)) { seen.events.count >= count })
        #expect(seen.events.map(\.name) == (0..<count).map { "f\($0)" })
        #expect(seen.events.allSatisfy { $0.kind == .create })
    }

    @Test("a watch nobody reads stops reading inotify; when the kernel's queue overflows, the watch fails as lost events")
    func overflow() async throws {
        let queued =
            (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
        let dir = try TransferSupport.TempDir(under: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        defer { dir.remove() }
        let h = try await AgentHarness.start()
        let watch = try await h.connection.watch(WatchRequest(path: dir.path, recursive: false))
        defer { watch.close() }
        // More events than the host's credit (256 KiB, some 30 bytes each) and the kernel's queue hold.
        for i in 0..<(queued + 20_000) { close(open(dir.path + "/f\(i)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)) }
        var delivered = 0
        await #expect {
            for try await _ in watch.events { delivered += 1 }
        } throws: { error in
            guard case AgentError.remote(let m) = error else { return false }
            return m.code == .resourceExhausted && m.message.contains("lost events")
        }
        #expect(delivered > 0 && delivered < queued + 20_000)
    }

    @Test("the watched directory deleted ends the events; close and a lost host both let go of inotify")
    func endings() async throws {
        let before = Self.inotifyDescriptors()
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        try await Self.sh(h, "mkdir \(dir.path)/gone \(dir.path)/kept")
        let gone = try await h.connection.watch(WatchRequest(path: dir.path + "/gone", recursive: true))
        let seen = Seen(gone)
        try await Self.sh(h, "rmdir \(dir.path)/gone")
        guard case .success = await seen.waitForEnd() else {
            Issue.record("the watch did not end cleanly: \(seen.end as Any)")
            return
        }
        let closed = try await h.connection.watch(WatchRequest(path: dir.path + "/kept", recursive: true))
        closed.close()
        let lost = try await h.connection.watch(WatchRequest(path: dir.path + "/kept", recursive: false))
        let lostSeen = Seen(lost)
        h.connection.close()
        #expect(await lostSeen.waitForEnd() != nil)
        #expect(
            await eventually(timeout: .seconds(120)) { Self.inotifyDescriptors() == before }, "\(Self.inotifyDescriptors()) vs \(before)")
    }
}

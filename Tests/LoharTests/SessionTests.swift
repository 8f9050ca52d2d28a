import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Lohar
import Testing

@Suite("Sessions through the real agent handlers")
struct SessionTests {
    @Test("a terminal session runs a login shell with TERM=xterm-256color and echoes typed commands")
    func ttyShell() async throws {
        let c = try await SharedAgent().connect()
        let att = try await c.openSession(SessionRequest())
        #expect(att.info.tty && att.info.running && att.info.attached)
        #expect(att.info.argv == ["bash", "-l"] && att.info.sessionID == "s1")
        let t = Transcript(att)
        try await att.write(Array("echo $((6*7)) T=$TERM\n".utf8))
        #expect(await t.waitFor("42 T=xterm-256color"))
        try att.kill()
        #expect(await t.waitForEnd().isExit)
    }

    @Test("the initial size comes from the request (24x80 by default) and resize reaches the terminal")
    func sizeAndResize() async throws {
        let c = try await SharedAgent().connect()
        let sized = try await c.openSession(SessionRequest(argv: ["sh"], rows: 30, cols: 100))
        let t = Transcript(sized)
        try await sized.write(Array("stty size\n".utf8))
        #expect(await t.waitFor("30 100"))
        try sized.resize(rows: 40, cols: 120)
        try await sized.write(Array("stty size\n".utf8))
        #expect(await t.waitFor("40 120"))
        let plain = try await c.openSession(SessionRequest(argv: ["sh"]))
        let p = Transcript(plain)
        try await plain.write(Array("stty size\n".utf8))
        #expect(await p.waitFor("24 80"))
        try sized.kill()
        try plain.kill()
        let ends = (await t.waitForEnd(), await p.waitForEnd())
        #expect(ends.0.isExit && ends.1.isExit)
    }

    @Test("detach leaves the session running; reattach replays the scrollback, then streams live")
    func detachAndReattach() async throws {
        let c = try await SharedAgent().connect()
        let first = try await c.openSession(SessionRequest(argv: ["sh"]))
        let id = first.info.sessionID
        let t1 = Transcript(first)
        try await first.write(Array("echo mark-$((1+1))\n".utf8))
        #expect(await t1.waitFor("mark-2"))
        try first.detach()
        #expect(await t1.waitForEnd() == .detached(reason: nil))
        let listed = try #require(try await c.listSessions().first { $0.sessionID == id })
        #expect(listed.running && !listed.attached)
        let second = try await c.openSession(SessionRequest(sessionID: id))
        #expect(second.info.sessionID == id && second.info.attached)
        let t2 = Transcript(second)
        #expect(await t2.waitFor("mark-2"))
        try await second.write(Array("echo live-$((2+3))\n".utf8))
        #expect(await t2.waitFor("live-5"))
        let text = t2.text
        if let replayed = text.range(of: "mark-2"), let live = text.range(of: "live-5") { #expect(replayed.lowerBound < live.lowerBound) }
        try second.kill()
        #expect(await t2.waitForEnd().isExit)
    }

    @Test("output is neither lost, duplicated nor reordered across the replay/live boundary")
    func reattachOrdering() async throws {
        let c = try await SharedAgent().connect()
        // A counter that stops at a limit the test raises before each attachment: however slow the machine
        // is to reattach, what is written while detached (at most 2,000 short lines) fits the 64 KiB
        // scrollback, so a gap can only be the session's fault. It keeps writing across each boundary.
        let dir = try TransferSupport.TempDir()
        defer { dir.remove() }
        let limitFile = dir.path + "/limit"
        func allow(upTo limit: Int) throws {
            try Data("\(limit)\n".utf8).write(to: URL(fileURLWithPath: limitFile), options: .atomic)
        }
        try allow(upTo: 2000)
        let script = """
            i=0; while :; do read lim < \(limitFile); while [ $i -lt $lim ]; do echo $i; i=$((i+1)); \
            if [ $((i % 10)) -eq 0 ]; then sleep 0.01; fi; done; sleep 0.01; done
            """
        var att = try await c.openSession(SessionRequest(argv: ["sh", "-c", script]))
        let id = att.info.sessionID
        var previousLast: Int?
        for _ in 0..<5 {
            let t = Transcript(att)
            // Past the replay: live numbers well beyond what the previous attachment saw.
            let target = (previousLast ?? 0) + 200
            #expect(await eventually { completeLines(t.bytes).last.flatMap { Int($0) }.map { $0 >= target } == true })
            try att.detach()
            #expect(await t.waitForEnd() == .detached(reason: nil))
            let numbers = try completeLines(t.bytes).map { try #require(Int($0)) }
            #expect(numbers.count >= 200)
            #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $1 == $0 + 1 }, "a gap, duplicate or reordering")
            if let previousLast, let first = numbers.first, let last = numbers.last {
                #expect(first <= previousLast + 1)
                #expect(last > previousLast)
            }
            if let last = numbers.last { try allow(upTo: last + 2000) }
            previousLast = numbers.last
            try await Task.sleep(for: .milliseconds(20))
            att = try await c.openSession(SessionRequest(sessionID: id))
        }
        let t = Transcript(att)
        try att.kill()
        #expect(await t.waitForEnd().isExit)
    }

    @Test("the scrollback keeps exactly the last 64 KiB")
    func scrollbackOverflow() async throws {
        let c = try await SharedAgent().connect()
        let att = try await c.openSession(SessionRequest(argv: ["sh", "-c", "seq 1 30000; echo END; exec sleep 30"], tty: false))
        let t = Transcript(att)
        #expect(await t.waitFor("END\n"))
        try att.detach()
        _ = await t.waitForEnd()
        let expected = Array(((1...30000).map { "\($0)\n" }.joined() + "END\n").utf8.suffix(64 * 1024))
        let again = try await c.openSession(SessionRequest(sessionID: att.info.sessionID))
        let r = Transcript(again)
        #expect(await r.waitForBytes(expected.count))
        try await Task.sleep(for: .milliseconds(100))
        #expect(r.bytes == expected)
        try again.kill()
        #expect(await r.waitForEnd().isExit)
    }

    @Test("a detached session past its idle timeout is killed; one without a timeout is kept")
    func idleTimeout() async throws {
        let c = try await SharedAgent().connect()
        // Sleeps no test outlives: only the idle timeout ends the first.
        let timed = try await c.openSession(SessionRequest(argv: ["sleep", "3600"], tty: false, idleTimeoutSeconds: 1))
        let kept = try await c.openSession(SessionRequest(argv: ["sleep", "3600"], tty: false))
        try timed.detach()
        try kept.detach()
        #expect(await eventually { try await c.listSessions().first { $0.sessionID == timed.info.sessionID }?.running == false })
        #expect(try await c.listSessions().first { $0.sessionID == kept.info.sessionID }?.running == true)
        try await c.killSession(kept.info.sessionID)
        // Killing one that already exited drops it.
        try await c.killSession(timed.info.sessionID)
        #expect(try await c.listSessions().allSatisfy { $0.sessionID != timed.info.sessionID })
    }

    @Test("an exited session nobody watched is kept for its keep time, then goes")
    func exitedSessionsGo() async throws {
        for keep in [3600, 0] {
            let c = try await SharedAgent { $0.keepExitedSessionSeconds = keep }.connect()
            let att = try await c.openSession(SessionRequest(argv: ["sleep", "3600"], tty: false))
            let id = att.info.sessionID
            try att.detach()
            try await c.killSession(id)  // ends the process while nobody is attached
            let listed = { try await c.listSessions().first { $0.sessionID == id } }
            if keep == 0 {
                #expect(await eventually { try await listed() == nil })
            } else {
                #expect(await eventually { try await listed()?.running == false })
            }
        }
    }

    @Test("a client that stops reading holds back only its own session, and can still detach")
    func slowClient() async throws {
        let c = try await SharedAgent().connect()
        let att = try await c.openSession(SessionRequest(argv: ["sh", "-c", "while :; do echo 0123456789abcdef; done"], tty: false))
        try await Task.sleep(for: .milliseconds(200))
        // The channel is not blocked by the unread output.
        let out = Collector()
        let status = try await c.exec(ExecRequest(argv: ["echo", "still-here"])) { out.add($0) }
        #expect(status.code == 0 && out.stdout == "still-here\n")
        try att.detach()
        let t = Transcript(att)
        #expect(await t.waitForEnd() == .detached(reason: nil))
        // Nothing beyond the credit the guest started with (the replay went out within it too).
        #expect(t.bytes.count > 0 && t.bytes.count <= Credit.initialWindow)
        try await c.killSession(att.info.sessionID)
    }

    @Test("a second client takes the session over; the first is told and its stream ends")
    func takeover() async throws {
        let agent = SharedAgent()
        let a = try await agent.connect()
        let b = try await agent.connect()
        let first = try await a.openSession(SessionRequest(argv: ["cat"]))
        let t1 = Transcript(first)
        let second = try await b.openSession(SessionRequest(sessionID: first.info.sessionID))
        #expect(await t1.waitForEnd() == .detached(reason: "taken over"))
        let t2 = Transcript(second)
        try await second.write(Array("hello-b\n".utf8))
        #expect(await t2.waitFor("hello-b"))
        #expect(try await a.listSessions().first?.attached == true)
        try await b.killSession(first.info.sessionID)
        #expect(await t2.waitForEnd().isExit)
    }

    @Test("kill ends a shell and its foreground job; unknown ids and commands are not found")
    func kill() async throws {
        let c = try await SharedAgent().connect()
        let att = try await c.openSession(SessionRequest())
        let t = Transcript(att)
        try await att.write(Array("echo ready-$((2*4)); sleep 100\n".utf8))
        #expect(await t.waitFor("ready-8"))
        try await c.killSession(att.info.sessionID)
        #expect(await t.waitForEnd().isExit)
        await #expect { try await c.killSession("s999") } throws: { remoteCode($0) == .notFound }
        await #expect { _ = try await c.openSession(SessionRequest(sessionID: "s999")) } throws: { remoteCode($0) == .notFound }
        await #expect { _ = try await c.openSession(SessionRequest(argv: ["no-such-command-xyz"])) } throws: { remoteCode($0) == .notFound }
        // The killed one was attached when it ended: its client has the exit, and it is gone.
        #expect(await eventually { try await c.listSessions().isEmpty })
    }

    @Test("list reports id, argv, kind, state and creation time")
    func list() async throws {
        let c = try await SharedAgent().connect()
        let before = Int(Date().timeIntervalSince1970)
        let shell = try await c.openSession(SessionRequest())
        let piped = try await c.openSession(SessionRequest(argv: ["sleep", "3600"], tty: false))
        try piped.detach()
        #expect(await eventually { try await c.listSessions().contains { $0.sessionID == "s2" && !$0.attached } })
        let list = try await c.listSessions()
        let after = Int(Date().timeIntervalSince1970)
        try #require(list.map(\.sessionID) == ["s1", "s2"])
        #expect(list[0].argv == ["bash", "-l"] && list[0].tty && list[0].running && list[0].attached && list[0].exitCode == nil)
        #expect(list[1].argv == ["sleep", "3600"] && !list[1].tty && list[1].running && !list[1].attached)
        // Made between the test's two readings of the clock (whole seconds), however long that took.
        #expect(list.allSatisfy { $0.createdAt >= before && $0.createdAt <= after }, "\(list.map(\.createdAt)) not in \(before)...\(after)")
        try shell.kill()
        try await c.killSession("s2")
    }

    @Test("at most 20 sessions run at once")
    func sessionLimit() async throws {
        let c = try await SharedAgent().connect()
        // Sessions that outlive any run of this test, however slow: the limit is what ends the 21st.
        for _ in 0..<20 { try await c.openSession(SessionRequest(argv: ["sleep", "3600"], tty: false)).close() }
        await #expect { _ = try await c.openSession(SessionRequest(argv: ["true"], tty: false)) } throws: {
            remoteCode($0) == .resourceExhausted
        }
        #expect(try await c.activity().runningSessions == 20)
        for info in try await c.listSessions() { try await c.killSession(info.sessionID) }
        #expect(await eventually { try await c.activity().runningSessions == 0 })
        // Room again.
        let att = try await c.openSession(SessionRequest(argv: ["true"], tty: false))
        #expect(await Transcript(att).waitForEnd().isExit)
    }

    @Test("a piped session merges stderr into stdout, takes stdin, and reports its exit")
    func piped() async throws {
        let c = try await SharedAgent().connect()
        let att = try await c.openSession(SessionRequest(argv: ["sh", "-c", "echo out; echo err >&2; exit 3"], tty: false))
        let t = Transcript(att)
        #expect(await t.waitForEnd() == .exit(code: 3))
        #expect(t.text == "out\nerr\n")
        let cat = try await c.openSession(SessionRequest(argv: ["cat"], tty: false))
        let ct = Transcript(cat)
        try await cat.write(Array("abc\n".utf8))
        #expect(await ct.waitFor("abc\n"))
        try await cat.write([])  // end of input
        #expect(await ct.waitForEnd() == .exit(code: 0))
        #expect(await eventually { try await c.listSessions().isEmpty })
    }

    @Test("an exited session nobody watched keeps its output and exit code for a reattach")
    func reattachAfterExit() async throws {
        let c = try await SharedAgent().connect()
        // It exits once told to, through a file: only after its client has surely detached.
        let go = "/tmp/bhatti-session-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: go) }
        let script = "while [ ! -e \(go) ]; do sleep 0.01; done; echo done-$((3*3)); exit 4"
        let att = try await c.openSession(SessionRequest(argv: ["sh", "-c", script], tty: false))
        att.close()
        #expect(await eventually { try await c.listSessions().first?.attached == false })
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        #expect(await eventually { try await c.listSessions().first?.exitCode == 4 })
        let again = try await c.openSession(SessionRequest(sessionID: att.info.sessionID))
        #expect(!again.info.running && again.info.exitCode == 4)
        let t = Transcript(again)
        #expect(await t.waitForEnd() == .exit(code: 4))
        #expect(t.text == "done-9\n")
        #expect(await eventually { try await c.listSessions().isEmpty })
    }

    @Test("a session survives its host connection; another connection attaches and sees its output")
    func survivesDisconnect() async throws {
        let agent = SharedAgent()
        let a = try await agent.connect()
        let att = try await a.openSession(SessionRequest(argv: ["sh"]))
        let t = Transcript(att)
        try await att.write(Array("echo before-$((4+4))\n".utf8))
        #expect(await t.waitFor("before-8"))
        a.close()
        let b = try await agent.connect()
        #expect(await eventually { try await b.listSessions().first.map { $0.running && !$0.attached } == true })
        let again = try await b.openSession(SessionRequest(sessionID: att.info.sessionID))
        let t2 = Transcript(again)
        #expect(await t2.waitFor("before-8"))
        try await again.write(Array("echo after-$((5+5))\n".utf8))
        #expect(await t2.waitFor("after-10"))
        try again.kill()
        #expect(await t2.waitForEnd().isExit)
    }

    @Test("reuseDetached attaches to the newest detached session of the same kind")
    func reuseDetached() async throws {
        let c = try await SharedAgent().connect()
        let first = try await c.openSession(SessionRequest(argv: ["cat"], tty: false))
        first.close()
        #expect(await eventually { try await c.listSessions().first?.attached == false })
        let reused = try await c.openSession(SessionRequest(argv: ["cat"], tty: false, reuseDetached: true))
        #expect(reused.info.sessionID == first.info.sessionID)
        let fresh = try await c.openSession(SessionRequest(argv: ["cat"], tty: true, reuseDetached: true))
        #expect(fresh.info.sessionID != first.info.sessionID)
        try reused.kill()
        try fresh.kill()
        #expect(await eventually { try await c.listSessions().isEmpty })
    }

    @Test("the init script runs as detached session `init` on a terminal")
    func initSession() async throws {
        let c = try await SharedAgent().connect()
        let script = "echo init-$((7*6)); exec sleep 30"
        try await c.configure(GuestConfig(initScript: script))
        let info = try #require(try await c.listSessions().first)
        #expect(info.sessionID == "init" && info.tty && !info.attached && info.argv == ["sh", "-c", script])
        let att = try await c.openSession(SessionRequest(sessionID: "init"))
        let t = Transcript(att)
        #expect(await t.waitFor("init-42"))
        att.close()
        // A client asking to reuse a detached terminal session gets a shell of its own, not init.
        let shell = try await c.openSession(SessionRequest(argv: ["cat"], reuseDetached: true))
        #expect(shell.info.sessionID != "init")
        try shell.kill()
        try await c.killSession("init")
        #expect(await eventually { try await c.listSessions().allSatisfy { !$0.running } })
    }
}

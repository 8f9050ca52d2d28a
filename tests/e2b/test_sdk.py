"""The official e2b SDK (pinned in scripts/e2b-venv.sh) against a real bhatti daemon with real VMs.

Run by IntegrationTests/E2BSDKTests, which starts the daemon and sets E2B_API_URL, E2B_SANDBOX_URL,
E2B_API_KEY (a user's key) and OTHER_API_KEY (another user's key).
"""

import io
import os

import pytest
from e2b import CommandExitException, Sandbox


@pytest.fixture
def sandbox():
    # E2B's API gives a sandbox 15 s when the create names no timeout; a test may take longer.
    sbx = Sandbox.create(metadata={"suite": "e2b"}, envs={"GREETING": "hello"}, timeout=600)
    yield sbx
    sbx.kill()


def test_run_exit_codes_output_and_env(sandbox):
    result = sandbox.commands.run("echo out; echo err >&2; echo $GREETING $EXTRA", envs={"EXTRA": "x"})
    assert result.exit_code == 0
    assert result.stdout == "out\nhello x\n"
    assert result.stderr == "err\n"
    with pytest.raises(CommandExitException) as failed:
        sandbox.commands.run("exit 7")
    assert failed.value.exit_code == 7


def test_streaming_callbacks_and_cwd(sandbox):
    seen = []
    result = sandbox.commands.run("pwd; echo two", cwd="/tmp", on_stdout=lambda line: seen.append(line))
    assert result.stdout == "/tmp\ntwo\n"
    assert "".join(seen) == "/tmp\ntwo\n"


def test_list_get_info_and_kill():
    sbx = Sandbox.create(metadata={"which": "listed"})
    try:
        ids = [s.sandbox_id for s in Sandbox.list().next_items()]
        assert sbx.sandbox_id in ids
        info = sbx.get_info()
        assert info.sandbox_id == sbx.sandbox_id
        assert info.metadata.get("which") == "listed"
    finally:
        assert sbx.kill()
    assert sbx.sandbox_id not in [s.sandbox_id for s in Sandbox.list().next_items()]


def test_another_user_cannot_see_or_use_it(sandbox):
    other = {"api_key": os.environ["OTHER_API_KEY"]}
    assert sandbox.sandbox_id not in [s.sandbox_id for s in Sandbox.list(**other).next_items()]
    with pytest.raises(Exception):
        Sandbox.connect(sandbox.sandbox_id, **other)
    assert not Sandbox.kill(sandbox.sandbox_id, **other)


def test_files_write_read_list_info(sandbox):
    info = sandbox.files.write("/tmp/e2b/a.txt", "alpha\n")
    assert info.path == "/tmp/e2b/a.txt" and info.name == "a.txt"
    assert sandbox.files.read("/tmp/e2b/a.txt") == "alpha\n"
    sandbox.files.write("/tmp/e2b/b.bin", b"\x00\x01\xff")
    assert bytes(sandbox.files.read("/tmp/e2b/b.bin", format="bytes")) == b"\x00\x01\xff"
    written = sandbox.files.write_files([
        {"path": "/tmp/e2b/c.txt", "data": "see"},
        {"path": "/tmp/e2b/d.txt", "data": "dee"},
    ])
    assert sorted(w.path for w in written) == ["/tmp/e2b/c.txt", "/tmp/e2b/d.txt"]
    assert sandbox.commands.run("cat /tmp/e2b/c.txt /tmp/e2b/d.txt").stdout == "seedee"
    names = sorted(entry.name for entry in sandbox.files.list("/tmp/e2b"))
    assert names == ["a.txt", "b.bin", "c.txt", "d.txt"]
    stat = sandbox.files.get_info("/tmp/e2b/a.txt")
    assert stat.size == 6 and stat.type.value == "file"
    assert sandbox.files.exists("/tmp/e2b/a.txt")
    assert not sandbox.files.exists("/tmp/e2b/nope")


def test_files_write_past_one_mib(sandbox):
    # Past the 1 MiB every other request body is held to. bytes go as multipart, a binary file
    # object as octet-stream with a Content-Length, an iterator as chunked octet-stream: all stream
    # through the daemon, none is held whole.
    data = os.urandom(3 << 20)
    sandbox.files.write("/tmp/big/bytes.bin", data)
    assert bytes(sandbox.files.read("/tmp/big/bytes.bin", format="bytes")) == data
    other = os.urandom(3 << 20)
    sandbox.files.write("/tmp/big/file.bin", io.BytesIO(other))
    assert bytes(sandbox.files.read("/tmp/big/file.bin", format="bytes")) == other
    pieces = (other[i : i + (1 << 20)] for i in range(0, len(other), 1 << 20))
    sandbox.files.write("/tmp/big/iter.bin", pieces)
    assert bytes(sandbox.files.read("/tmp/big/iter.bin", format="bytes")) == other


def test_list_filters_and_refusals(sandbox):
    from e2b import SandboxQuery, SandboxState

    other = Sandbox.create(metadata={"suite": "other"})
    try:
        mine = Sandbox.list(query=SandboxQuery(metadata={"suite": "e2b"})).next_items()
        assert [s.sandbox_id for s in mine] == [sandbox.sandbox_id]
        running = Sandbox.list(query=SandboxQuery(state=[SandboxState.RUNNING])).next_items()
        assert {sandbox.sandbox_id, other.sandbox_id} <= {s.sandbox_id for s in running}
        pages = Sandbox.list(limit=1)
        first = pages.next_items()
        assert len(first) == 1 and pages.has_next
        second = pages.next_items()
        assert len(second) == 1 and second[0].sandbox_id != first[0].sandbox_id
    finally:
        other.kill()
    # Files are written by the sandbox's user: another user is refused, never silently ignored.
    with pytest.raises(Exception, match="not supported"):
        sandbox.files.write("/tmp/as-root.txt", "x", user="root")


def test_pause_then_connect_wakes_it(sandbox):
    sandbox.files.write("/workspace/kept.txt", "still here")
    assert sandbox.pause()
    listed = {s.sandbox_id: s.state.value for s in Sandbox.list().next_items()}
    assert listed[sandbox.sandbox_id] == "paused"
    # An envd call on the paused sandbox wakes it by itself, as native calls do: no connect needed.
    assert sandbox.files.read("/workspace/kept.txt") == "still here"
    again = Sandbox.connect(sandbox.sandbox_id)
    assert again.commands.run("cat /workspace/kept.txt").stdout == "still here"
    assert {s.sandbox_id: s.state.value for s in Sandbox.list().next_items()}[sandbox.sandbox_id] == "running"


def test_lifecycle_auto_pause_is_reported_and_a_filesystem_pause_refused():
    sbx = Sandbox.create(lifecycle={"on_timeout": "pause", "auto_resume": True}, timeout=600)
    try:
        assert sbx.get_info().lifecycle == {"on_timeout": "pause", "auto_resume": True}
        # A pause that drops memory is refused, not silently kept whole.
        with pytest.raises(Exception, match="filesystem-only"):
            sbx.pause(mode="filesystem")
        with pytest.raises(Exception, match="strict pause"):
            sbx.pause(strict=True)
        assert sbx.pause()
        assert not sbx.pause(), "a second pause is a 409, which the SDK reports as False"
        with pytest.raises(Exception, match="reboot"):
            Sandbox.connect(sbx.sandbox_id, on_resume="reboot")
    finally:
        sbx.kill()
    with pytest.raises(Exception, match="filesystem-only"):
        Sandbox.create(lifecycle={"on_timeout": {"action": "pause", "mode": "filesystem"}})
    plain = Sandbox.create(timeout=600)
    try:
        assert plain.get_info().lifecycle == {"on_timeout": "kill", "auto_resume": True}
    finally:
        plain.kill()


def test_snapshots_create_list_restore_delete(sandbox):
    import uuid

    sandbox.files.write("/workspace/snap.txt", "from the snapshot")
    named = sandbox.create_snapshot(name="snap-" + uuid.uuid4().hex[:8])
    assert named.names == [named.snapshot_id]
    unnamed = sandbox.create_snapshot()
    assert unnamed.names == [] and unnamed.snapshot_id
    try:
        # The source keeps running; its snapshots are listed under it, and not for another user.
        assert sandbox.commands.run("cat /workspace/snap.txt").stdout == "from the snapshot"
        listed = [s.snapshot_id for s in sandbox.list_snapshots(limit=1).next_items()]
        assert len(listed) == 1 and listed[0] in (named.snapshot_id, unnamed.snapshot_id)
        paginator = Sandbox.list_snapshots(sandbox_id=sandbox.sandbox_id, limit=1)
        seen = []
        while paginator.has_next:
            seen += [s.snapshot_id for s in paginator.next_items()]
        assert sorted(seen) == sorted([named.snapshot_id, unnamed.snapshot_id])
        other = Sandbox.list_snapshots(api_key=os.environ["OTHER_API_KEY"]).next_items()
        assert named.snapshot_id not in [s.snapshot_id for s in other]
        with pytest.raises(Exception, match="filesystem-only"):
            sandbox.create_snapshot(mode="filesystem")

        restored = Sandbox.create(template=named.snapshot_id, timeout=600)
        try:
            assert restored.sandbox_id != sandbox.sandbox_id
            assert restored.files.read("/workspace/snap.txt") == "from the snapshot"
            restored.files.write("/workspace/snap.txt", "changed in the copy")
            assert sandbox.files.read("/workspace/snap.txt") == "from the snapshot"
        finally:
            restored.kill()
    finally:
        assert Sandbox.delete_snapshot(named.snapshot_id)
        assert Sandbox.delete_snapshot(unnamed.snapshot_id)
    assert not Sandbox.delete_snapshot(named.snapshot_id), "a second delete finds nothing"


def test_fork_copies_memory_and_disk_into_independent_sandboxes(sandbox):
    sandbox.commands.run("echo parent > /workspace/p.txt")
    # A process in a session of its own: a command's process group is killed when it ends, and a
    # command the SDK runs ends in the fork with its stream, which stays with the source. The command
    # returns once the sleep has left its group (its session id is its own pid).
    sandbox.commands.run(
        "setsid sleep 100000 </dev/null >/dev/null 2>&1 & p=$!; "
        "until [ \"$(cut -d' ' -f6 /proc/$p/stat 2>/dev/null)\" = \"$p\" ]; do :; done"
    )
    forks = sandbox.fork(count=2, timeout=600)
    try:
        assert len(forks) == 2 and all(isinstance(f, Sandbox) for f in forks), forks
        assert len({f.sandbox_id for f in forks} | {sandbox.sandbox_id}) == 3
        for f in forks:
            assert f.files.read("/workspace/p.txt") == "parent\n"
            # The running process came along in memory.
            find = "for c in /proc/[0-9]*/cmdline; do [ \"$(tr '\\0' ' ' < $c)\" = 'sleep 100000 ' ] && exit 0; done; exit 1"
            assert f.commands.run(find).exit_code == 0
            assert sandbox.commands.run(find).exit_code == 0
            with pytest.raises(CommandExitException):
                sandbox.commands.run(find.replace("100000", "100001"))
        forks[0].files.write("/workspace/p.txt", "changed")
        assert forks[1].files.read("/workspace/p.txt") == "parent\n"
        assert sandbox.files.read("/workspace/p.txt") == "parent\n"
    finally:
        for f in forks:
            if isinstance(f, Sandbox):
                f.kill()


def test_set_timeout_moves_end_at(sandbox):
    import datetime

    sandbox.set_timeout(3600)
    end = sandbox.get_info().end_at
    left = (end - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 3000 < left <= 3600, left


def test_background_wait_list_kill_and_connect(sandbox):
    done = sandbox.commands.run("sleep 1; echo finished", background=True)
    assert done.pid > 0
    result = done.wait()
    assert result.exit_code == 0 and result.stdout == "finished\n"

    import time

    server = sandbox.commands.run("echo ready; touch /tmp/ready; sleep 600", background=True)
    # The SDK reads a background command's events only in wait(): the file says it has begun. The
    # deadline only turns a hang into a failure.
    give_up = time.monotonic() + 120
    while not sandbox.files.exists("/tmp/ready"):
        assert time.monotonic() < give_up, "the background command never began"
        time.sleep(0.1)
    listed = {p.pid: p for p in sandbox.commands.list()}
    assert server.pid in listed and listed[server.pid].cmd == "/bin/bash"
    again = sandbox.commands.connect(server.pid)
    assert sandbox.commands.kill(server.pid)
    with pytest.raises(CommandExitException) as killed:
        server.wait()
    assert killed.value.stdout == "ready\n"
    with pytest.raises(CommandExitException):
        again.wait()
    assert server.pid not in [p.pid for p in sandbox.commands.list()]
    assert not sandbox.commands.kill(server.pid)


def wait_for(condition, what):
    """Polls `condition`; the deadline only turns a hang into a failure."""
    import time

    give_up = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < give_up, what
        time.sleep(0.05)


def test_stdin_send_then_close(sandbox):
    # A command with stdin runs as a guest session: its working directory is the one asked for.
    handle = sandbox.commands.run("pwd; cat; echo done", background=True, stdin=True, cwd="/tmp")
    sandbox.commands.send_stdin(handle.pid, "line one\n")
    sandbox.commands.send_stdin(handle.pid, b"line two\n")
    sandbox.commands.close_stdin(handle.pid)
    result = handle.wait()
    assert result.exit_code == 0 and result.stdout == "/tmp\nline one\nline two\ndone\n"
    # Without stdin=True there is nothing to send to.
    plain = sandbox.commands.run("sleep 600", background=True)
    with pytest.raises(Exception):
        sandbox.commands.send_stdin(plain.pid, "x")
    assert sandbox.commands.kill(plain.pid)


def test_pty_input_resize_and_kill(sandbox):
    import threading

    from e2b import PtySize

    output = bytearray()
    terminal = sandbox.pty.create(PtySize(rows=24, cols=80), timeout=0)
    reader = threading.Thread(target=lambda: _drain(terminal, output), daemon=True)
    reader.start()
    sandbox.pty.send_stdin(terminal.pid, b"stty size; echo mark-$((6*7))\n")
    wait_for(lambda: b"mark-42" in output and b"24 80" in output, f"no answer from the terminal: {bytes(output)!r}")
    sandbox.pty.resize(terminal.pid, PtySize(rows=30, cols=100))
    sandbox.pty.send_stdin(terminal.pid, b"stty size\n")
    wait_for(lambda: b"30 100" in output, f"the resize never showed: {bytes(output)!r}")
    assert terminal.pid in [p.pid for p in sandbox.commands.list()]
    assert sandbox.pty.kill(terminal.pid)
    reader.join(timeout=120)
    assert not reader.is_alive()
    assert terminal.pid not in [p.pid for p in sandbox.commands.list()]


def _drain(terminal, output):
    try:
        terminal.wait(on_pty=lambda data: output.extend(data))
    except Exception:
        pass


def _curl(*args):
    import subprocess

    return subprocess.run(["curl", "-s", "-m", "20", *args], capture_output=True, text=True).stdout


def test_get_host_serves_e2b_ports_and_no_others(sandbox):
    import json
    import urllib.request

    sandbox.commands.run("cd /tmp && echo served-by-port > index.html && exec python3 -m http.server 3000", background=True)
    host = sandbox.get_host(3000)
    # The daemon's public proxy: `localhost` resolves to the loopback by itself (curl does so).
    assert host.startswith(f"3000-{sandbox.sandbox_id}.localhost:"), host
    wait_for(lambda: "served-by-port" in _curl(f"http://{host}/index.html"), "get_host(3000) never served the page")
    # A sandbox made through the native API keeps its ports private: the proxy refuses the host (404)
    # before it tries the port, where an E2B sandbox with nothing listening is a 502.
    base = os.environ["E2B_API_URL"].removesuffix("/e2b")
    headers = {"Authorization": "Bearer " + os.environ["E2B_API_KEY"], "Content-Type": "application/json"}
    request = urllib.request.Request(base + "/v1/sandboxes", data=b'{"name":"native-one"}', headers=headers, method="POST")
    native = json.load(urllib.request.urlopen(request))["id"]
    try:
        domain = host.split(".", 1)[1]
        assert _curl("-o", "/dev/null", "-w", "%{http_code}", f"http://3000-{native}.{domain}/") == "404"
        assert _curl("-o", "/dev/null", "-w", "%{http_code}", f"http://4000-{sandbox.sandbox_id}.{domain}/") == "502"
    finally:
        urllib.request.urlopen(urllib.request.Request(base + "/v1/sandboxes/native-one", headers=headers, method="DELETE"))


def test_commands_as_root_and_as_the_default_user(sandbox):
    assert sandbox.commands.run("id -u; echo $HOME", user="root").stdout == "0\n/root\n"
    assert sandbox.commands.run("id -un", user="user").stdout == sandbox.commands.run("id -un").stdout
    with pytest.raises(CommandExitException) as unknown:
        sandbox.commands.run("true", user="nobody-here")
    assert "nobody-here" in unknown.value.stderr


def test_make_dir_rename_remove(sandbox):
    assert sandbox.files.make_dir("/tmp/tree/a/b")
    assert not sandbox.files.make_dir("/tmp/tree/a/b")
    sandbox.files.write("/tmp/tree/a/b/f.txt", "moved")
    info = sandbox.files.rename("/tmp/tree/a/b/f.txt", "/tmp/tree/g.txt")
    assert info.path == "/tmp/tree/g.txt" and info.name == "g.txt"
    assert sandbox.files.read("/tmp/tree/g.txt") == "moved"
    assert not sandbox.files.exists("/tmp/tree/a/b/f.txt")
    sandbox.files.remove("/tmp/tree/a")
    assert not sandbox.files.exists("/tmp/tree/a")
    with pytest.raises(Exception):
        sandbox.files.rename("/tmp/tree/none", "/tmp/tree/other")


def test_list_to_a_depth(sandbox):
    sandbox.commands.run("mkdir -p /tmp/deep/a/b/c && touch /tmp/deep/top /tmp/deep/a/one /tmp/deep/a/b/two /tmp/deep/a/b/c/three")
    def listed(depth):
        return [e.path for e in sandbox.files.list("/tmp/deep", depth=depth)]
    assert listed(1) == ["/tmp/deep/a", "/tmp/deep/top"]
    assert listed(2) == ["/tmp/deep/a", "/tmp/deep/a/b", "/tmp/deep/a/one", "/tmp/deep/top"]
    assert listed(10) == [
        "/tmp/deep/a", "/tmp/deep/a/b", "/tmp/deep/a/b/c", "/tmp/deep/a/b/c/three", "/tmp/deep/a/b/two",
        "/tmp/deep/a/one", "/tmp/deep/top",
    ]
    assert [e.type.value for e in sandbox.files.list("/tmp/deep", depth=2)] == ["dir", "dir", "file", "file"]


def test_watch_dir_sees_write_rename_and_delete(sandbox):
    from e2b import FilesystemEventType

    sandbox.files.make_dir("/tmp/watched")
    handle = sandbox.files.watch_dir("/tmp/watched", recursive=True)
    try:
        sandbox.files.write("/tmp/watched/one.txt", "1")
        sandbox.files.rename("/tmp/watched/one.txt", "/tmp/watched/two.txt")
        sandbox.files.remove("/tmp/watched/two.txt")
        seen = []

        def saw_all():
            seen.extend((e.name, e.type) for e in handle.get_new_events())
            kinds = {(name, kind) for name, kind in seen}
            # A write lands atomically (a temporary file renamed over the name): the name is created.
            return {("one.txt", FilesystemEventType.CREATE), ("one.txt", FilesystemEventType.RENAME),
                    ("two.txt", FilesystemEventType.CREATE), ("two.txt", FilesystemEventType.REMOVE)} <= kinds

        wait_for(saw_all, f"events so far: {seen}")
    finally:
        handle.stop()


def test_get_metrics_reports_the_guest(sandbox):
    # A hot sandbox with no sample yet is read when asked: the first call has one.
    metrics = sandbox.get_metrics()
    assert metrics, "no metrics for a running sandbox"
    first = metrics[0]
    assert first.cpu_count == 1
    assert 0 <= first.cpu_used_pct <= 100
    assert first.mem_total > 0 and 0 < first.mem_used <= first.mem_total
    assert first.disk_total > 0 and 0 < first.disk_used <= first.disk_total
    assert first.timestamp.tzinfo is not None
    assert Sandbox.get_metrics(sandbox.sandbox_id) != []

"""The e2b SDK's async client (AsyncSandbox) against a real bhatti daemon: the same control plane and
envd calls through httpx's async transport. Plain pytest functions each drive one event loop, so the
suite needs no plugin beyond what scripts/e2b-venv.sh pins."""

import asyncio

import pytest
from e2b import AsyncSandbox, CommandExitException


def run(coroutine):
    return asyncio.run(coroutine)


def test_async_create_run_stream_and_kill():
    async def body():
        sbx = await AsyncSandbox.create(metadata={"suite": "async"}, envs={"GREETING": "hi"})
        try:
            seen_out, seen_err = [], []
            result = await sbx.commands.run(
                "echo $GREETING; echo oops >&2", on_stdout=seen_out.append, on_stderr=seen_err.append)
            assert result.exit_code == 0 and result.stdout == "hi\n" and result.stderr == "oops\n"
            assert "".join(seen_out) == "hi\n" and "".join(seen_err) == "oops\n"
            with pytest.raises(CommandExitException) as failed:
                await sbx.commands.run("exit 3")
            assert failed.value.exit_code == 3
            listed = [s.sandbox_id async for s in _all(AsyncSandbox.list())]
            assert sbx.sandbox_id in listed
        finally:
            assert await sbx.kill()
        assert sbx.sandbox_id not in [s.sandbox_id async for s in _all(AsyncSandbox.list())]

    run(body())


def test_async_background_stdin_files_and_pause():
    async def body():
        sbx = await AsyncSandbox.create()
        try:
            handle = await sbx.commands.run("cat; echo end", background=True, stdin=True)
            await sbx.commands.send_stdin(handle.pid, "typed\n")
            await sbx.commands.close_stdin(handle.pid)
            result = await handle.wait()
            assert result.stdout == "typed\nend\n"

            sleeper = await sbx.commands.run("sleep 600", background=True)
            assert sleeper.pid in [p.pid for p in await sbx.commands.list()]
            assert await sbx.commands.kill(sleeper.pid)
            with pytest.raises(CommandExitException):
                await sleeper.wait()

            await sbx.files.write("/workspace/async.txt", "async bytes")
            assert await sbx.files.read("/workspace/async.txt") == "async bytes"
            assert await sbx.files.exists("/workspace/async.txt")
            assert await sbx.pause()
            again = await AsyncSandbox.connect(sbx.sandbox_id)
            assert (await again.commands.run("cat /workspace/async.txt")).stdout == "async bytes"
        finally:
            await sbx.kill()

    run(body())


def test_async_watch_dir_streams_events():
    async def body():
        from e2b import FilesystemEventType

        sbx = await AsyncSandbox.create()
        try:
            await sbx.files.make_dir("/tmp/streamed")
            events = []
            handle = await sbx.files.watch_dir("/tmp/streamed", on_event=events.append)
            await sbx.files.write("/tmp/streamed/new.txt", "n")
            await sbx.files.remove("/tmp/streamed/new.txt")
            loop = asyncio.get_running_loop()
            give_up = loop.time() + 120
            while not {("new.txt", FilesystemEventType.CREATE), ("new.txt", FilesystemEventType.REMOVE)} <= {
                (e.name, e.type) for e in events
            }:
                assert loop.time() < give_up, f"events so far: {events}"
                await asyncio.sleep(0.05)
            await handle.stop()
        finally:
            await sbx.kill()

    run(body())


async def _all(paginator):
    while paginator.has_next:
        for item in await paginator.next_items():
            yield item

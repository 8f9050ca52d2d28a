"""Exec `true` through the e2b SDK against the same command through bhatti's native API, both over
kept-alive connections to one sandbox, interleaved; prints every sample in ms as JSON (bhatti-bench's
E2BBench turns them into RESULTS.md rows).

Then the same pair with a working directory that does not exist, which the guest refuses before it
forks: every hop of both protocols (client, daemon, guest agent and back) without the guest's spawn
time, which under TCG varies by tens of ms from one command to the next and drowns a 1 ms difference.

Usage: E2B_API_URL=… E2B_SANDBOX_URL=… E2B_API_KEY=… python e2b_exec.py HOST PORT [N]
(`eval "$(bhatti e2b env)"` sets the E2B_ variables; HOST PORT are the daemon's TCP listener.)
"""

import http.client
import json
import os
import sys
import time

from e2b import CommandExitException, Sandbox


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    # E2B's API default is 15 s, shorter than the run.
    sbx = Sandbox.create(timeout=3600)
    try:
        native = http.client.HTTPConnection(host, port)
        headers = {"Authorization": "Bearer " + os.environ["E2B_API_KEY"], "Content-Type": "application/json"}
        # The SDK runs its command as `/bin/bash -l -c CMD`: the native call runs the same argv.
        body = json.dumps({"cmd": ["/bin/bash", "-l", "-c", "true"]})
        path = f"/v1/sandboxes/{sbx.sandbox_id}/exec"

        missing = "/nonexistent"
        refused = json.dumps({"cmd": ["/bin/bash", "-l", "-c", "true"], "cwd": missing})

        def native_exec(request, exit_code):
            native.request("POST", path, body=request, headers=headers)
            reply = native.getresponse()
            data = reply.read()
            assert reply.status == 200 and json.loads(data)["exit_code"] == exit_code, data

        def run_native():
            native_exec(body, 0)

        def run_sdk():
            assert sbx.commands.run("true").exit_code == 0

        def run_native_refused():
            native_exec(refused, 127)

        def run_sdk_refused():
            try:
                sbx.commands.run("true", cwd=missing)
            except CommandExitException as e:
                assert e.exit_code == 127, e
            else:
                raise AssertionError("a command in a missing directory ran")

        def interleaved(sdk_call, native_call):
            for _ in range(10):
                native_call()
                sdk_call()
            def timed(call):
                start = time.perf_counter()
                call()
                return (time.perf_counter() - start) * 1000

            sdk, nat = [], []
            for i in range(n):
                # Each pair runs back to back, the SDK first in one and second in the next: whichever
                # runs second was seen to be faster by about a millisecond (the guest's caches).
                if i % 2 == 0:
                    sdk.append(timed(sdk_call))
                    nat.append(timed(native_call))
                else:
                    nat.append(timed(native_call))
                    sdk.append(timed(sdk_call))
            return sdk, nat, [a - b for a, b in zip(sdk, nat)]

        sdk, nat, paired = interleaved(run_sdk, run_native)
        sdk_r, nat_r, paired_r = interleaved(run_sdk_refused, run_native_refused)
        print(
            json.dumps(
                {
                    "sdk": sdk,
                    "native": nat,
                    "paired": paired,
                    "sdk_refused": sdk_r,
                    "native_refused": nat_r,
                    "paired_refused": paired_r,
                }
            )
        )
    finally:
        sbx.kill()


if __name__ == "__main__":
    main()

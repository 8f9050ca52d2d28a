"""Exec `true` through the e2b SDK against the same command through bhatti's native API, both over
kept-alive connections to one sandbox, interleaved; prints every sample in ms as JSON (bhatti-bench's
E2BBench turns them into RESULTS.md rows).

Usage: E2B_API_URL=… E2B_SANDBOX_URL=… E2B_API_KEY=… python e2b_exec.py HOST PORT [N]
(`eval "$(bhatti e2b env)"` sets the E2B_ variables; HOST PORT are the daemon's TCP listener.)
"""

import http.client
import json
import os
import sys
import time

from e2b import Sandbox


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

        def run_native():
            native.request("POST", path, body=body, headers=headers)
            reply = native.getresponse()
            data = reply.read()
            assert reply.status == 200 and json.loads(data)["exit_code"] == 0, data

        def run_sdk():
            assert sbx.commands.run("true").exit_code == 0

        for _ in range(10):
            run_native()
            run_sdk()
        sdk, nat = [], []
        for _ in range(n):
            start = time.perf_counter()
            run_sdk()
            sdk.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            run_native()
            nat.append((time.perf_counter() - start) * 1000)
        # Each pair ran back to back: their difference leaves out most of the guest's varying spawn time.
        paired = [a - b for a, b in zip(sdk, nat)]
        print(json.dumps({"sdk": sdk, "native": nat, "paired": paired}))
    finally:
        sbx.kill()


if __name__ == "__main__":
    main()

#!/bin/sh
# The Python with PyPI's `websockets` that the WebSocket interop tests use as a real peer: a venv in
# /tmp/bhatti-ws-venv, made on first use (flock serialises concurrent test runs). Prints its python.
set -e
venv=/tmp/bhatti-ws-venv
exec 9>"$venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --retries 2 --timeout 20 websockets
fi
echo "$venv/bin/python"

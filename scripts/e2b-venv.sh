#!/bin/sh
# The Python with PyPI's `e2b` SDK (pinned) and pytest that the E2B compatibility tests drive a real
# daemon with: a venv in /tmp/bhatti-e2b-venv, made on first use (flock serialises concurrent runs).
# Prints its python.
set -e
venv=/tmp/bhatti-e2b-venv
want="e2b==2.63.0 pytest==8.3.4"
exec 9>"$venv.lock"
flock 9
if [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ] || ! "$venv/bin/python" -c 'import e2b, pytest' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check --retries 2 --timeout 30 $want
  echo "$want" > "$venv/.pinned"
fi
echo "$venv/bin/python"

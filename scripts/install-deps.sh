#!/usr/bin/env bash
# Installs the Debian packages bhatti needs to build, test and run, when they are missing.
# Only Debian packages here; the WebSocket interop test makes its own venv with PyPI's `websockets`
# (a real peer for RFC 6455) under /tmp/bhatti-ws-venv the first time it runs.
set -euo pipefail
need=(
  pkg-config libsqlite3-dev libssl-dev gcc libc6-dev        # build
  qemu-system-x86 qemu-utils                                 # the VMM and qcow2 overlays
  debootstrap e2fsprogs                                      # guest image
  curl python3 python3-venv procps                           # tests (curl and Python websockets as peers)
  age                                                        # tests: secrets interoperate with the age CLI
  sqlite3                                                    # tests: another connection holds the store's write lock
  iproute2 nftables                                          # per-user networks: namespaces, bridges, taps, NAT, egress policy
  umoci skopeo zlib1g-dev                                    # image import: gzip layers; tests build real OCI and docker archives
  busybox-static                                             # tests: the static busybox the import test packs into an image
)
[ "${1:-}" = "--bench" ] && need+=(wrk)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "error: run as root to install ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "error: swift (6.x) is not on PATH" >&2; exit 1; }

#!/usr/bin/env bash
# make uninstall: stops and removes the service and the binary. Data and configuration stay unless PURGE=1.
set -euo pipefail
PREFIX=${PREFIX:-/usr/local}
DATA_DIR=${DATA_DIR:-/var/lib/bhatti}
[ "$(id -u)" -eq 0 ] || { echo "error: run make uninstall as root" >&2; exit 1; }
if [ -d /run/systemd/system ] && [ -e /etc/systemd/system/bhatti.service ]; then
  systemctl disable --now bhatti.service || true
  rm -f /etc/systemd/system/bhatti.service
  systemctl daemon-reload
fi
rm -f "$PREFIX/bin/bhatti"
# The daemon's host nftables tables (NAT and isolation for sandbox networks) stay after it stops, for a
# restart; without the daemon they serve nothing.
if command -v nft >/dev/null 2>&1; then
  for table in $(nft list tables 2>/dev/null | awk '$3 ~ /^bhatti_/ {print $3}'); do nft delete table ip "$table" || true; done
fi
rm -rf "$PREFIX/share/doc/bhatti"
if [ "${PURGE:-0}" = 1 ]; then
  rm -rf "$DATA_DIR" /etc/bhatti
  # QEMU's user owns nothing once the data is gone (kept data keeps it, for its sandbox directories).
  if id -u bhatti-vmm >/dev/null 2>&1; then userdel bhatti-vmm || true; fi
  echo "removed bhatti, its data ($DATA_DIR) and configuration (/etc/bhatti)"
else
  echo "removed bhatti; kept $DATA_DIR and /etc/bhatti (make uninstall PURGE=1 removes them too)"
fi

#!/usr/bin/env bash
# make install: the binary, a systemd unit, /etc/bhatti/config.json, the data dir and its guest image.
# Run again to upgrade in place: sandboxes survive (the daemon snapshots them on stop and restores them).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
DATA_DIR=${DATA_DIR:-/var/lib/bhatti}
CONFIG=/etc/bhatti/config.json
[ "$(id -u)" -eq 0 ] || { echo "error: run make install as root" >&2; exit 1; }

install -d -m 0755 "$PREFIX/bin" /etc/bhatti "$PREFIX/share/doc/bhatti"
install -d -m 0700 "$DATA_DIR"
# Every QEMU runs as this unprivileged system user (the daemon would create it on first boot too).
if ! id -u bhatti-vmm >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group bhatti-vmm
  echo "created the system user bhatti-vmm (QEMU runs as it)"
fi
# Replace the binary by rename: a running daemon keeps its old inode until it restarts.
install -m 0755 .build/release/bhatti "$PREFIX/bin/bhatti.new"
mv -f "$PREFIX/bin/bhatti.new" "$PREFIX/bin/bhatti"
install -m 0644 docs/*.md "$PREFIX/share/doc/bhatti/"
if [ ! -e "$CONFIG" ]; then
  printf '{\n  "data_dir": "%s",\n  "listen": "127.0.0.1:8080"\n}\n' "$DATA_DIR" > "$CONFIG.new"
  chmod 0644 "$CONFIG.new"
  mv "$CONFIG.new" "$CONFIG"
  echo "wrote $CONFIG"
fi
echo "building the guest image in $DATA_DIR/images/default"
"$PREFIX/bin/bhatti" image build --out "$DATA_DIR/images/default" --lohar .build/static/release/lohar --init-source guest/init.c --verbose

if [ -d /run/systemd/system ]; then
  install -m 0644 packaging/bhatti.service /etc/systemd/system/bhatti.service
  systemctl daemon-reload
  systemctl enable bhatti.service >/dev/null
  # restart: an upgrade snapshots every sandbox (SIGTERM) and the new binary restores them.
  systemctl restart bhatti.service
  for _ in $(seq 1 100); do [ -s "$DATA_DIR/admin.key" ] && [ -S "$DATA_DIR/api.sock" ] && break; sleep 0.1; done
  [ -s "$DATA_DIR/admin.key" ] || { echo "error: bhatti.service did not start; see journalctl -u bhatti" >&2; exit 1; }
  if [ ! -e "$HOME/.bhatti/config.json" ]; then
    "$PREFIX/bin/bhatti" setup --url "unix://$DATA_DIR/api.sock" --token "$(cat "$DATA_DIR/admin.key")"
  fi
  echo "bhatti.service is running; try: bhatti create --name dev --cpus 2 --memory 1024"
else
  echo "systemd is not running here: start the daemon with"
  echo "  $PREFIX/bin/bhatti serve --config $CONFIG"
  echo "(its first start creates the admin user and writes ~/.bhatti/config.json)"
fi

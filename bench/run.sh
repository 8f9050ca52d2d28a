#!/usr/bin/env bash
# make bench: release build of the bench driver, then real VMs through the real daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE_DIR=${BHATTI_BENCH_IMAGE_DIR:-/var/lib/bhatti/images/default}
swift build -c release --product bhatti-bench
swift build -c release --product bhatti
.build/release/bhatti-bench "$IMAGE_DIR" bench/RESULTS.md --boots "${BOOTS:-10}" --execs "${EXECS:-400}" --pings "${PINGS:-2000}" --cli .build/release/bhatti \
    --cycles "${CYCLES:-200}" --warm-wakes "${WARM_WAKES:-50}" --cold-wakes "${COLD_WAKES:-20}" \
    --fleet "${FLEET:-20}" --fleet-rounds "${FLEET_ROUNDS:-3}" --template-creates "${TEMPLATE_CREATES:-10}" \
    --image-imports "${IMAGE_IMPORTS:-6}" --e2b-execs "${E2B_EXECS:-200}"

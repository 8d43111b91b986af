#!/usr/bin/env bash
# Build the Dockerfile and run the image, where Docker Hub cannot be reached: slow, not in the tests.
#
#   sudo bash scripts/docker_check.sh            # as root: it installs packages and starts dockerd
#   sudo REBUILD_BASE=1 bash scripts/docker_check.sh   # import the base image again
#
# 1. installs docker.io, debootstrap and docker-compose from Debian's packages if missing, starts dockerd
#    if none answers;
# 2. debootstraps a minimal Debian 13 (trixie: Python 3.13) from the mirror apt uses here, with python3
#    and python3-venv, and `docker import`s it as a local base image (cached in $WORK);
# 3. builds the image with --build-arg BASE_IMAGE=<that base>;
# 4. serves synthetic LibreChat data from a mongoeco server on the host and runs the image against it
#    (--network host, TIMEZONE=US/Eastern), then checks: the user is not root, the Dockerfile's own
#    HEALTHCHECK turns healthy, /metrics serves the LibreChat families and its all-time totals equal
#    the oracle's (tests/oracle.py over the same documents); export_metrics.py, US/Eastern and the
#    generator (and the demo seeder, once librechat_metrics/demo exists) work in the image;
# 5. validates the compose files with Debian's docker-compose (1.29) and prints the image size.
# Exit 0 when every check passed, 1 otherwise. The containers, the mongoeco server and a dockerd it
# started are stopped on exit; the base image and the built image are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${DOCKER_CHECK_DIR:-/var/tmp/librechat-metrics-docker-check}
BASE=librechat-metrics-base:debian13
IMAGE=librechat-metrics:check
NAME=librechat-metrics-check
PYTHON=$ROOT/.venv/bin/python
mkdir -p "$WORK"

say() { printf 'docker_check: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || { say "run as root (installs packages, starts dockerd)"; exit 2; }
[ -x "$PYTHON" ] || { say "no $PYTHON: run scripts/bootstrap.sh first"; exit 2; }

# --- 1. tools ---------------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's client matches Debian's daemon (another docker client may be first on PATH).
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)

DOCKERD_PID=
MONGO_PID=
cleanup() {
    "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true
    [ -n "$MONGO_PID" ] && kill "$MONGO_PID" 2>/dev/null || true
    if [ -n "$DOCKERD_PID" ]; then kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

if ! "$DOCKER" info >/dev/null 2>&1; then
    say "starting dockerd (log: $WORK/dockerd.log)"
    dockerd >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
    "$DOCKER" info >/dev/null 2>&1 || fail "dockerd did not start: $(tail -3 "$WORK/dockerd.log")"
fi
say "docker $("$DOCKER" version --format '{{.Server.Version}}')"

# --- 2. base image ----------------------------------------------------------------------------------
mirror() {  # the first Debian mirror apt is configured with
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1)
    echo "${uri:-http://deb.debian.org/debian}"
}
[ "${REBUILD_BASE:-0}" = 1 ] && "$DOCKER" rmi -f "$BASE" >/dev/null 2>&1
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
    if [ ! -f "$WORK/rootfs/.complete" ]; then
        rm -rf "$WORK/rootfs"
        say "debootstrap trixie from $(mirror) (log: $WORK/debootstrap.log)"
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            trixie "$WORK/rootfs" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 \
            || fail "debootstrap failed: $(tail -3 "$WORK/debootstrap.log")"
        rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
        touch "$WORK/rootfs/.complete"
    fi
    # This machine reaches PyPI through a proxy with its own CA: the base trusts what the host trusts.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$WORK/rootfs/usr/local/share/ca-certificates/"
        chroot "$WORK/rootfs" update-ca-certificates >/dev/null 2>&1
    fi
    say "docker import $BASE"
    tar -C "$WORK/rootfs" --exclude=./.complete -c . | "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE" >/dev/null
fi
say "base: $("$DOCKER" run --rm "$BASE" python3 -VV | head -1)"

# --- 3. build ---------------------------------------------------------------------------------------
say "docker build --build-arg BASE_IMAGE=$BASE (log: $WORK/build.log)"
DOCKER_BUILDKIT=0 "$DOCKER" build --network host --build-arg BASE_IMAGE="$BASE" \
    --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    -t "$IMAGE" . >"$WORK/build.log" 2>&1 || fail "build failed: $(tail -5 "$WORK/build.log")"

# What the image holds: labels, the export's entry point, legacy zone names, the generator.
say "labels: $("$DOCKER" image inspect -f '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}' "$IMAGE")"
"$DOCKER" run --rm --read-only "$IMAGE" python export_metrics.py --help >/dev/null \
    || fail "export_metrics.py --help does not run in the image"
zone=$("$DOCKER" run --rm "$IMAGE" python -c 'import os, zoneinfo
print(zoneinfo.ZoneInfo("US/Eastern"), "in base:", os.path.exists("/usr/share/zoneinfo/US/Eastern"))') \
    || fail "US/Eastern is not a zone in the image"
say "ok: export_metrics.py runs; zone $zone"
"$DOCKER" run --rm "$IMAGE" python -c 'import librechat_metrics.synthetic' || fail "no synthetic generator"
if [ -d librechat_metrics/demo ]; then
    "$DOCKER" run --rm "$IMAGE" python -m librechat_metrics.demo --help >/dev/null \
        || fail "python -m librechat_metrics.demo (the compose seeder) does not run in the image"
    say "ok: the compose seeder's module runs"
fi

# --- 4. run against synthetic data ------------------------------------------------------------------
say "seeding a mongoeco server on the host"
"$PYTHON" - "$WORK" <<'EOF'
import json, sys
from datetime import datetime, timezone
from pathlib import Path
sys.path.insert(0, ".")
from librechat_metrics.synthetic import generate
from librechat_metrics.synthetic.dump import write_dump
from tests.oracle import exporter_samples

work = Path(sys.argv[1])
now = datetime.now(timezone.utc).replace(microsecond=0)
data = generate(profile="v0.8.7", seed=11, n_messages=1500, now=now, zones=("UTC",)).collections
write_dump(work / "dump.bson", data)
expected = exporter_samples(data, now, tz="US/Eastern")
names = ("librechat_messages_total", "librechat_error_messages_total", "librechat_input_tokens_total",
         "librechat_output_tokens_total", "librechat_conversations_total", "librechat_registered_users_total")
(work / "expected.json").write_text(json.dumps({n: expected[n][()] for n in names}))
EOF
rm -f "$WORK/port"
"$PYTHON" scripts/mongoeco_server.py --port 0 --load "$WORK/dump.bson" --ready-file "$WORK/port" \
    >"$WORK/mongoeco.log" 2>&1 &
MONGO_PID=$!
for _ in $(seq 120); do [ -s "$WORK/port" ] && break; sleep 1; done
[ -s "$WORK/port" ] || fail "mongoeco did not start: $(tail -3 "$WORK/mongoeco.log")"
MONGO_PORT=$(cat "$WORK/port")
METRICS_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true
"$DOCKER" run -d --name "$NAME" --network host --read-only --cap-drop ALL \
    -e MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true" \
    -e METRICS_PORT="$METRICS_PORT" -e METRICS_LISTEN_ADDRESS=127.0.0.1 -e TIMEZONE=US/Eastern \
    "$IMAGE" >/dev/null
say "container up; the HEALTHCHECK is the Dockerfile's (first probe after 30 s)"

user=$("$DOCKER" exec "$NAME" id -u)
[ "$user" != 0 ] || fail "the container runs as root"
say "ok: user $("$DOCKER" exec "$NAME" id), image user $("$DOCKER" image inspect -f '{{.Config.User}}' "$IMAGE")"

health=starting
for _ in $(seq 120); do
    health=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$NAME")
    [ "$health" = starting ] || break
    [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$NAME")" = true ] \
        || fail "container exited: $("$DOCKER" logs --tail 5 "$NAME" 2>&1)"
    sleep 1
done
[ "$health" = healthy ] || fail "health is $health: $("$DOCKER" inspect -f '{{json .State.Health}}' "$NAME")"
say "ok: HEALTHCHECK healthy"

"$PYTHON" - "$WORK" "$METRICS_PORT" <<'EOF' || fail "/metrics check failed (logs: docker logs $NAME)"
import json, sys, time, urllib.request
from pathlib import Path
from prometheus_client.parser import text_string_to_metric_families

expected = json.loads((Path(sys.argv[1]) / "expected.json").read_text())
url = f"http://127.0.0.1:{sys.argv[2]}/metrics"
deadline = time.monotonic() + 120
while True:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    served = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}
    families = {f.name for f in text_string_to_metric_families(text) if f.name.startswith("librechat_")}
    if all(n in served for n in expected) or time.monotonic() > deadline:
        break
    time.sleep(2)
wrong = {n: (served.get(n), v) for n, v in expected.items() if served.get(n) != v}
print(f"docker_check: /metrics serves {len(families)} librechat_ families; oracle totals {expected}",
      file=sys.stderr)
if wrong:
    sys.exit(f"docker_check: served != oracle: {wrong}")
EOF
say "ok: /metrics totals equal the oracle's"

# --- 5. compose files and size ----------------------------------------------------------------------
cat >"$WORK/librechat-stub.yml" <<'EOF'
services:  # stands in for LibreChat's docker-compose.yml, which the sidecar snippet is added to
  mongodb:
    image: mongo:8.0.20
EOF
(cd examples/compose && docker-compose -f docker-compose.yml config -q) \
    || fail "docker-compose $(docker-compose version --short) rejects examples/compose/docker-compose.yml"
LIBRECHAT_METRICS_MONGO_PASSWORD=x docker-compose -f "$WORK/librechat-stub.yml" \
    -f examples/compose/librechat-sidecar.yml config -q \
    || fail "docker-compose $(docker-compose version --short) rejects examples/compose/librechat-sidecar.yml"
say "ok: docker-compose $(docker-compose version --short) accepts the demo stack and the sidecar snippet"
say "image $IMAGE: $(( $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE") / 1000000 )) MB" \
    "(base $BASE: $(( $("$DOCKER" image inspect -f '{{.Size}}' "$BASE") / 1000000 )) MB)"
say "PASS"

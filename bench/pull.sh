#!/usr/bin/env bash
# Pull benchmark (issue 2): a 4-layer Debian minbase image (~90 MB gzip, ~6,800 files) from
# a local docker-registry; median of 5 cold pulls (empty store each time), against the
# same-run floor of fetching the same blobs with curl (| sha256sum, | gzip -dc).
# Needs root, debootstrap, docker-registry, hyperfine, curl. Results go to bench/README.md
# by hand. Usage: bench/pull.sh [path/to/rdesk]   (default: target/release/rdesk)
set -euo pipefail
cd "$(dirname "$0")/.."
RDESK=${1:-target/release/rdesk}
[[ -x $RDESK ]] || { echo "build first: cargo build --release -p rdesk" >&2; exit 1; }
CACHE=/var/tmp/rdesk-bench
WORK=$(mktemp -d /var/tmp/rdesk-pull-bench.XXXXXX)
REG_PID=
cleanup() { [[ -n $REG_PID ]] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# 1. The image: debootstrap minbase, split into 4 layers (cached between runs).
mkdir -p "$CACHE"
if [[ ! -d $CACHE/rootfs/usr ]]; then
  debootstrap --variant=minbase bookworm "$CACHE/rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log"
fi
if [[ ! -f $CACHE/layers/4.tar.gz ]]; then
  mkdir -p "$CACHE/layers"
  T="tar --numeric-owner --xattrs -C $CACHE/rootfs -cf -"
  $T usr/lib | gzip -6 >"$CACHE/layers/1.tar.gz"
  (cd "$CACHE/rootfs" && tar --numeric-owner --xattrs -cf - $(ls -d usr/* | grep -v '^usr/lib$')) | gzip -6 >"$CACHE/layers/2.tar.gz"
  $T var | gzip -6 >"$CACHE/layers/3.tar.gz"
  $T --exclude=./usr --exclude=./var . | gzip -6 >"$CACHE/layers/4.tar.gz"
fi

# 2. A registry on a free loopback port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
YML
/usr/bin/docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
REG=127.0.0.1:$PORT
REPO=bench/debian

push_blob() { # file -> digest
  local f=$1 d loc
  d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
  loc=$(curl -fsi -X POST "http://$REG/v2/$REPO/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  [[ $loc == http* ]] || loc="http://$REG$loc"
  curl -fs -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$f" "$loc&digest=$d" >/dev/null
  echo "$d"
}
LAYERS=() DIFFS=() SIZES=()
for i in 1 2 3 4; do
  f=$CACHE/layers/$i.tar.gz
  LAYERS+=("$(push_blob "$f")")
  DIFFS+=("\"sha256:$(gzip -dc "$f" | sha256sum | cut -d' ' -f1)\"")
  SIZES+=("$(stat -c %s "$f")")
done
ARCH=$(dpkg --print-architecture)
printf '{"architecture":"%s","os":"linux","config":{"Cmd":["bash"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[{"created_by":"debootstrap minbase: usr/lib"},{"created_by":"usr"},{"created_by":"var"},{"created_by":"etc and the rest"}]}' \
  "$ARCH" "$(IFS=,; echo "${DIFFS[*]}")" >"$WORK/config.json"
CONFIG=$(push_blob "$WORK/config.json")
{
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[' "$CONFIG" "$(stat -c %s "$WORK/config.json")"
  for i in 0 1 2 3; do
    [[ $i -gt 0 ]] && printf ','
    printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}' "${LAYERS[$i]}" "${SIZES[$i]}"
  done
  printf ']}'
} >"$WORK/manifest.json"
curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$WORK/manifest.json" "http://$REG/v2/$REPO/manifests/v1" >/dev/null
TOTAL=$(( SIZES[0] + SIZES[1] + SIZES[2] + SIZES[3] ))
echo "image: 4 layers, $TOTAL bytes gzip, $(find "$CACHE/rootfs" | wc -l) entries"

# 3. Measure: the floor (all 4 blobs at once, as a pull fetches them) and rdesk.
export REG REPO LAYERS_STR="${LAYERS[*]}"
FLOOR_SHA="for d in \$LAYERS_STR; do curl -fs http://\$REG/v2/\$REPO/blobs/\$d | sha256sum >/dev/null & done; wait"
FLOOR_GZ="for d in \$LAYERS_STR; do curl -fs http://\$REG/v2/\$REPO/blobs/\$d | gzip -dc >/dev/null & done; wait"
# The unpack floor on this filesystem: GNU tar extracting the 4 layers at once into a fresh
# dir. Every run (tar's and rdesk's) writes into a new directory after a sync, and nothing is
# deleted until the end: ext4 allocates inodes slowly right after mass deletion (measured:
# both take ~4 s instead of ~1 s when each run follows an rm -rf of the previous one).
cat >"$WORK/tarx.sh" <<SH
set -e
i=0
for d in $LAYERS_STR; do
  i=\$((i+1)); mkdir -p \$1/\$i
  (curl -fs http://$REG/v2/$REPO/blobs/\$d | gzip -dc | tar -C \$1/\$i -x --numeric-owner) &
done
wait
SH
ROOT=$WORK/root RUN=$WORK/run
hyperfine --style basic --runs 5 --warmup 1 --export-json "$WORK/h1.json" \
  -n 'curl | sha256sum' "bash -c '$FLOOR_SHA'" \
  -n 'curl | gzip -dc' "bash -c '$FLOOR_GZ'"
hyperfine --style basic --runs 5 --warmup 1 --export-json "$WORK/h2.json" \
  -n 'curl | gzip -dc | tar -x' --prepare sync "bash $WORK/tarx.sh $WORK/tarx.\$(date +%s%N)" \
  -n 'rdesk pull' --prepare sync "$RDESK --root $ROOT.\$(date +%s%N) --runroot $RUN.\$(date +%s%N) pull -q $REG/$REPO:v1"
python3 - "$WORK/h1.json" "$WORK/h2.json" <<'PY'
import json, sys, statistics
r = {x["command"]: statistics.median(x["times"]) for f in sys.argv[1:] for x in json.load(open(f))["results"]}
sha, gz, tx, rd = r["curl | sha256sum"], r["curl | gzip -dc"], r["curl | gzip -dc | tar -x"], r["rdesk pull"]
print(f"| median of 5 | rdesk pull {rd:.2f} s | curl|sha256sum {sha:.2f} s ({rd/sha:.1f}x) | curl|gzip -dc {gz:.2f} s ({rd/gz:.1f}x) | curl|gzip -dc|tar -x {tx:.2f} s ({rd/tx:.2f}x) |")
PY
for tool in podman docker; do
  command -v $tool >/dev/null && echo "($tool is installed: compare by hand; never start dockerd here)"
done
exit 0

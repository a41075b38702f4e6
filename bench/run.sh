#!/usr/bin/env bash
# Container benchmark (issue 3): `rdesk run --rm IMG true` against `runc run` of an
# equivalent prepared bundle in the same run; `ps -a` with 1,000 containers; the shim's RSS.
# Needs root, runc, hyperfine, busybox-static. Usage: bench/run.sh [path/to/rdesk]
set -euo pipefail
cd "$(dirname "$0")/.."
RDESK=${1:-target/release/rdesk}
[[ -x $RDESK ]] || { echo "build first: cargo build --release -p rdesk" >&2; exit 1; }
WORK=$(mktemp -d /var/tmp/rdesk-run-bench.XXXXXX)
R="$RDESK --root $WORK/root --runroot $WORK/run"
cleanup() {
  for id in $($R ps -aq --no-trunc 2>/dev/null); do $R rm -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A one-layer busybox image, and the same rootfs as a plain runc bundle.
mkdir -p "$WORK/rootfs"/{bin,etc,tmp,proc,sys,dev}
cp /bin/busybox "$WORK/rootfs/bin/"
for a in sh true sleep echo; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -c . | $R import -c 'CMD ["sh"]' - bench/bb:1 >/dev/null
# The reference bundle is rdesk's own (same seccomp profile, capabilities, masks, mounts),
# pointed at a plain copy of the rootfs, so runc does the same work minus rdesk's.
mkdir -p "$WORK/bundle" && mv "$WORK/rootfs" "$WORK/bundle/rootfs"
ref=$($R create --name bench-ref bench/bb:1 true)
$R start -a bench-ref >/dev/null
python3 - "$WORK/root/containers/$ref/bundle/config.json" "$WORK/bundle" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["root"] = {"path": sys.argv[2] + "/rootfs", "readonly": False}
s["linux"]["cgroupsPath"] = "/rdesk-bench-ref"
json.dump(s, open(sys.argv[2] + "/config.json", "w"))
PY

echo "== run --rm true (median of 15)"
hyperfine --style basic --runs 15 --warmup 2 --export-json "$WORK/run.json" \
  -n 'runc run (same bundle)' "runc --root $WORK/runc run -b $WORK/bundle bench-ref" \
  -n 'rdesk run --rm' "$R run --rm bench/bb:1 true"

echo "== ps -a with 1,000 containers"
for i in $(seq 1000); do $R create bench/bb:1 true >/dev/null; done
hyperfine --style basic --runs 10 --warmup 1 --export-json "$WORK/ps.json" -n 'rdesk ps -a (1,000)' "$R ps -a"

echo "== exec true (median of 15)"
id=$($R run -d bench/bb:1 sleep 60)
hyperfine --style basic --runs 15 --warmup 2 --export-json "$WORK/exec.json" -n 'rdesk exec' "$R exec $id true"

echo "== shim RSS"
shim=$(python3 -c "import json,sys; print(json.load(open('$WORK/root/containers/$id/state.json'))['shim_pid'])")
sleep 0.5
rss=$(awk '/VmRSS/ {print $2}' "/proc/$shim/status")
echo "shim VmRSS: ${rss} kB"
$R rm -f "$id" >/dev/null

python3 - "$WORK/run.json" "$WORK/ps.json" "$rss" "$WORK/exec.json" <<'PY'
import json, sys, statistics
med = lambda f: {x["command"]: statistics.median(x["times"]) for x in json.load(open(f))["results"]}
r, p, e = med(sys.argv[1]), med(sys.argv[2]), med(sys.argv[4])
ref, rd = r["runc run (same bundle)"], r["rdesk run --rm"]
print(f"| run --rm true | rdesk {rd*1000:.0f} ms | runc {ref*1000:.0f} ms | {rd/ref:.2f}x |")
print(f"| ps -a, 1,000 containers | {p['rdesk ps -a (1,000)']*1000:.0f} ms |")
print(f"| shim VmRSS | {int(sys.argv[3])/1024:.1f} MB |")
print(f"| exec true | {e['rdesk exec']*1000:.0f} ms |")
PY

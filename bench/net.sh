#!/usr/bin/env bash
# Network benchmark (issue 6): TCP throughput from the host through a published port (the
# userland forwarder) against the same transfer to the container's address directly, in the
# same run; request latency (connect + one HTTP request) both ways; DNS lookup latency from
# inside a container against the embedded DNS. Traffic stays on 127.0.0.1 and the bench
# store's own bridge. Needs root, busybox-static, python3, nftables.
# Usage: bench/net.sh [path/to/rdesk]   (default: target/release/rdesk)
set -euo pipefail
cd "$(dirname "$0")/.."
RDESK=${1:-target/release/rdesk}
[[ -x $RDESK ]] || { echo "build first: cargo build --release -p rdesk" >&2; exit 1; }
WORK=$(mktemp -d /var/tmp/rdesk-net-bench.XXXXXX)
export RDESK_CONFIG=$WORK/config.toml
# Names the embedded DNS does not serve go nowhere (nothing leaves the machine).
printf '[network]\ndns_upstream = ["127.0.0.1"]\n' >"$RDESK_CONFIG"
R="$RDESK --root $WORK/root --runroot $WORK/run"
SINK_PID=
cleanup() {
  [[ -n $SINK_PID ]] && kill "$SINK_PID" 2>/dev/null
  for id in $($R ps -aq --no-trunc 2>/dev/null); do $R rm -f "$id" >/dev/null 2>&1 || true; done
  $R network rm benchnet >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/rootfs"/{bin,etc,tmp,proc,sys,dev,www}
cp /bin/busybox "$WORK/rootfs/bin/"
for a in sh true sleep nc httpd nslookup seq; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
echo ok >"$WORK/rootfs/www/index.html"
tar -C "$WORK/rootfs" -c . | $R import -c 'CMD ["sh"]' - bench/bb:1 >/dev/null

$R network create benchnet >/dev/null
# A data sink in a container's namespace (the host's python3 entered into it with nsenter,
# so the sink is not the bottleneck: 1 MiB reads), and a web server; both published on
# loopback ports.
$R run -d --name sink --network benchnet -p 127.0.0.1::5000 bench/bb:1 sleep 600 >/dev/null
SINK_NS=$($R inspect -f '{{.NetworkSettings.SandboxKey}}' sink)
nsenter --net="$SINK_NS" python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 5000)); l.listen(16)
buf = bytearray(1 << 20)
while True:
    c, _ = l.accept()
    while c.recv_into(buf): pass
    c.sendall(b"k"); c.close()
' &
SINK_PID=$!
$R run -d --name web --network benchnet --network-alias web -p 127.0.0.1::80 bench/bb:1 \
  httpd -f -p 80 -h /www >/dev/null
SINK_PORT=$($R port sink 5000 | sed 's/.*://')
WEB_PORT=$($R port web 80 | sed 's/.*://')
SINK_IP=$($R inspect -f '{{.NetworkSettings.IPAddress}}' sink)
WEB_IP=$($R inspect -f '{{.NetworkSettings.IPAddress}}' web)
sleep 0.5

python3 - "$SINK_PORT" "$SINK_IP" "$WEB_PORT" "$WEB_IP" <<'PY'
import socket, statistics, sys, time
sink_port, sink_ip, web_port, web_ip = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
MB = 1 << 20
def throughput(addr, total=512 * MB):
    chunk = b"x" * (256 * 1024)
    s = socket.create_connection(addr)
    t = time.perf_counter(); sent = 0
    while sent < total:
        s.sendall(chunk); sent += len(chunk)
    s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
    return sent / MB / (time.perf_counter() - t)
def request(addr):
    t = time.perf_counter()
    s = socket.create_connection(addr)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while s.recv(4096): pass
    s.close()
    return (time.perf_counter() - t) * 1000
for name, f in [("throughput MB/s", lambda a: throughput(a)), ("request ms", lambda a: statistics.median(request(a) for _ in range(200)))]:
    via = [f(("127.0.0.1", sink_port if "through" in name else web_port)) for _ in range(3)]
    direct = [f((sink_ip if "through" in name else web_ip, 5000 if "through" in name else 80)) for _ in range(3)]
    print(f"{name}: published port (127.0.0.1) {statistics.median(via):.2f}  direct to container {statistics.median(direct):.2f}")
PY

echo "== DNS lookups from a container's network namespace"
$R run -d --name client --network benchnet bench/bb:1 sleep 300 >/dev/null
NS=$($R inspect -f '{{.NetworkSettings.SandboxKey}}' client)
GW=$($R network inspect benchnet | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["IPAM"]["Config"][0]["Gateway"])')
# Raw queries (the host's python in the container's namespace: no process per lookup).
nsenter --net="$NS" python3 - "$GW" <<'PY'
import socket, statistics, struct, sys, time
gw = sys.argv[1]
def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    return q
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
times = []
for i in range(1000):
    t = time.perf_counter(); s.sendto(query("web", i), (gw, 53)); r = s.recv(512)
    times.append((time.perf_counter() - t) * 1e6)
    assert struct.unpack(">H", r[6:8])[0] == 1, "no answer"
print(f"embedded DNS, A web: median {statistics.median(times):.0f} us, p99 {sorted(times)[989]:.0f} us (1000 queries)")
PY
# And what a program in the container sees: busybox nslookup (a process per lookup, an A
# and an AAAA query), against the same loop running /bin/true instead.
t0=$(date +%s%N); $R exec client sh -c 'for i in $(seq 100); do nslookup web >/dev/null; done'
t1=$(date +%s%N); $R exec client sh -c 'for i in $(seq 100); do /bin/true; done'
t2=$(date +%s%N)
echo "busybox nslookup web in the container: $(( ((t1-t0)-(t2-t1))/100000 )) us per lookup above a /bin/true loop"

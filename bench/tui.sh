#!/usr/bin/env bash
# Workstation benchmark (issue 4): with 50 running containers, 500 in all and 200 images
# (tags of one busybox image), measure
#   - the time to the first frame and to the first full frame (both lists loaded and drawn),
#     from the exec of `rdesk` in a 120x40 pty to the bytes on the terminal;
#   - the CPU of the TUI and of every monitor (rdesk-shim) over 60 s of idling, and the
#     whole machine's busy share over the same window (other work on the machine counts);
#   - the TUI's VmRSS after the first full frame and after the idle minute.
# Same-run reference: `rdesk ps -a` plus `rdesk images` on the same store (the CLI reading
# what the first full frame shows).
# Needs root, busybox-static, hyperfine, python3. Usage: bench/tui.sh [path/to/rdesk]
set -euo pipefail
cd "$(dirname "$0")/.."
RDESK=${1:-target/release/rdesk}
[[ -x $RDESK ]] || { echo "build first: cargo build --release -p rdesk" >&2; exit 1; }
RDESK=$(realpath "$RDESK")
WORK=$(mktemp -d /var/tmp/rdesk-tui-bench.XXXXXX)
R="$RDESK --root $WORK/root --runroot $WORK/run"
cleanup() {
  for id in $($R ps -aq --no-trunc 2>/dev/null); do $R rm -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== setup: 200 images, 500 containers (50 running)"
mkdir -p "$WORK/rootfs"/{bin,etc,tmp,proc,sys,dev}
cp /bin/busybox "$WORK/rootfs/bin/"
for a in sh true sleep echo; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -c . | $R import -c 'CMD ["sh"]' - bench/bb:1 >/dev/null
for i in $(seq 2 200); do $R tag bench/bb:1 "bench/img$i:latest"; done
for i in $(seq 450); do $R create --name "idle$i" bench/bb:1 true >/dev/null; done
for i in $(seq 50); do $R run -d --name "run$i" bench/bb:1 sleep 100000 >/dev/null; done
echo "image rows: $($R images | tail -n +2 | wc -l), containers: $($R ps -aq | wc -l), running: $($R ps -q | wc -l)"

echo "== reference: rdesk ps -a + rdesk images (median of 10)"
hyperfine --style basic --runs 10 --warmup 2 --export-json "$WORK/ref.json" \
  -n 'ps -a + images' "$R ps -a >/dev/null && $R images >/dev/null"

echo "== the workstation: first frames (5 runs), then 60 s idle"
python3 - "$RDESK" "$WORK" "$WORK/ref.json" <<'PY'
import fcntl, json, os, pty, select, statistics, struct, sys, termios, time

rdesk, work, ref_json = sys.argv[1], sys.argv[2], sys.argv[3]
argv = [rdesk, "--root", f"{work}/root", "--runroot", f"{work}/run"]
env = dict(os.environ, TERM="xterm-256color", RDESK_CONFIG=f"{work}/none.toml")
env.pop("NO_COLOR", None)
TICK = os.sysconf("SC_CLK_TCK")

def start():
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.execve(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return pid, fd

class Screen:
    """Just enough of a terminal for ratatui's output: cursor moves, clears, text (SGR and
    modes ignored). ratatui writes only the cells that changed, so markers are looked for on
    the screen, not in the byte stream."""
    def __init__(self, rows=40, cols=120):
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0
        self.pending = ""
        self.dec = __import__("codecs").getincrementaldecoder("utf-8")("replace")
    def feed(self, data):
        s = self.pending + self.dec.decode(data)
        self.pending = ""
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c == "\x1b":
                if i + 1 >= n:
                    self.pending = s[i:]; return
                k = s[i + 1]
                if k == "[":
                    j = i + 2
                    while j < n and not ("@" <= s[j] <= "~"):
                        j += 1
                    if j >= n:
                        self.pending = s[i:]; return
                    params, final = s[i + 2:j], s[j]
                    if final in "Hf":
                        p = [int(x) if x.isdigit() else 1 for x in (params.split(";") + ["1", "1"])[:2]]
                        self.y, self.x = min(p[0], self.rows) - 1, min(p[1], self.cols) - 1
                    elif final == "J" and params in ("2", "3"):
                        self.grid = [[" "] * self.cols for _ in range(self.rows)]
                    i = j + 1
                elif k == "]":
                    j = s.find("\x07", i)
                    if j < 0:
                        self.pending = s[i:]; return
                    i = j + 1
                else:
                    i += 2
                continue
            if c == "\r":
                self.x = 0
            elif c == "\n":
                self.y = min(self.y + 1, self.rows - 1)
            elif c >= " ":
                if self.x < self.cols:
                    self.grid[self.y][self.x] = c
                self.x += 1
            i += 1
    def text(self):
        return "\n".join("".join(r) for r in self.grid)

def read_until(fd, t0, markers, screen, timeout=20.0):
    """Seconds from t0 until every marker is on the screen."""
    while True:
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            raise SystemExit(f"timed out waiting for {markers}; the screen:\n{screen.text()}")
        screen.feed(os.read(fd, 65536))
        now = time.perf_counter()
        t = screen.text()
        if all(m in t for m in markers):
            return now - t0

def drain(fd, secs):
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if r:
            try:
                os.read(fd, 65536)
            except OSError:
                return

def quit(pid, fd):
    os.write(fd, b"q")
    drain(fd, 0.5)
    os.waitpid(pid, 0)
    os.close(fd)

def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

def shims():
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if open(f"/proc/{p}/comm").read().strip() == "rdesk-shim":
                    # This store's monitors only (other stores may run on the machine).
                    cmd = open(f"/proc/{p}/cmdline").read().split("\0")
                    if f"{work}/root" in cmd:
                        out.append(int(p))
            except OSError:
                pass
    return out

def system_busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f), idle

first, full = [], []
for run in range(5):
    t0 = time.perf_counter()
    pid, fd = start()
    screen = Screen()
    first.append(read_until(fd, t0, ["rdesk 0.1.0", " q quit"], screen))
    full.append(read_until(fd, t0, ["Containers (500, 50 running)", " 2 Images 200 "], screen))
    if run < 4:
        quit(pid, fd)

# The last run stays up: idle for 60 s (output drained, nothing pressed).
drain(fd, 2)
rss_first = rss_kb(pid)
monitors = shims()
before = {p: cpu_ticks(p) for p in [pid] + monitors}
sys0 = system_busy()
drain(fd, 60)
sys1 = system_busy()
after = {}
for p in before:
    try:
        after[p] = cpu_ticks(p)
    except OSError:
        after[p] = before[p]
tui_ticks = after[pid] - before[pid]
shim_ticks = sum(after[p] - before[p] for p in monitors)
rss_idle = rss_kb(pid)
quit(pid, fd)
total = sys1[0] - sys0[0]
busy = 100.0 * (total - (sys1[1] - sys0[1])) / total if total else 0.0
ref = statistics.median(json.load(open(ref_json))["results"][0]["times"])
print(f"first frame: median {statistics.median(first)*1000:.1f} ms  (runs: {', '.join(f'{x*1000:.1f}' for x in first)})")
print(f"first full frame (500 containers, 200 images): median {statistics.median(full)*1000:.1f} ms  (runs: {', '.join(f'{x*1000:.1f}' for x in full)})")
print(f"reference ps -a + images: {ref*1000:.1f} ms")
print(f"idle 60 s: TUI {tui_ticks} ticks = {100.0*tui_ticks/TICK/60:.3f}% of a core; "
      f"{len(monitors)} shims {shim_ticks} ticks = {100.0*shim_ticks/TICK/60:.3f}%; "
      f"together {100.0*(tui_ticks+shim_ticks)/TICK/60:.3f}%; whole machine busy {busy:.1f}% (all work on it)")
print(f"TUI VmRSS: {rss_first/1024:.1f} MB after the first full frame, {rss_idle/1024:.1f} MB after the idle minute")
PY

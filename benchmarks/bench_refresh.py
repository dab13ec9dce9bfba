"""What the diagram costs after each cell: snapshot + diff + render, at 1, 10 and 50 containers.

    python benchmarks/bench_refresh.py [--lab NAME] [--sizes 1 10 50] [--runs 15]

For each size it starts that many busybox containers (bench1..benchN) in the lab, then times
  refresh  = snapshot through the kept-alive probe (`--serve`, as a notebook session keeps it)
             + diff against the previous snapshot + DOT + SVG (Graphviz `dot`);
  baseline = bare `ip -j link` dumps of the same namespaces, all in one `docker exec`
             (the cheapest thing a per-cell refresh could do without a kept-alive probe);
and prints medians side by side with their ratio. Targets (issue 3): refresh ≤ 150 ms at 10
containers and ≤ 1.5× the baseline; layout ≤ 100 ms at 50 containers.

It leaves the lab as it found it, except that bench* containers are removed at the end.
The lab: --lab, else $LABKIT_LAB, else the container labelled org.labkit.role=lab.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.draw.dot import to_dot  # noqa: E402
from labkit.draw.svg import to_svg  # noqa: E402
from labkit.model.diff import diff  # noqa: E402
from labkit.transport.probe_client import SERVE_ARGV, ProbeSession  # noqa: E402

# --- lab access: one adapter (docker exec for now; labkit.lab.Lab's transport later) -------

class LabAccess:
    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, cmd: str) -> str:
        done = subprocess.run(["docker", "exec", self.name, "bash", "-c", cmd],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"in the lab: {cmd[:80]!r} failed: {done.stderr.strip()}")
        return done.stdout

    def probe(self) -> ProbeSession:
        try:
            from labkit.lab import Lab

            lab = Lab.connect(self.name)
            return ProbeSession(lab.transport.open_pipe(list(SERVE_ARGV)))
        except ImportError:  # the notebook extras are not installed: plain docker exec
            return ProbeSession.spawn(["docker", "exec", "-i", self.name, *SERVE_ARGV])


def find_lab(explicit: str | None) -> str:
    name = explicit or os.environ.get("LABKIT_LAB")
    if name:
        return name
    out = subprocess.run(["docker", "ps", "--filter", "label=org.labkit.role=lab",
                          "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    if not out.split():
        raise SystemExit("no lab running: start one (labkit up) or pass --lab NAME")
    return out.split()[0]


def set_containers(lab: LabAccess, n: int) -> None:
    """Exactly n bench containers: bench1..benchN."""
    lab.run(f"""
        for c in $(docker ps -a --format '{{{{.Names}}}}' | grep '^bench[0-9]*$'); do
          i=${{c#bench}}; [ "$i" -gt {n} ] && docker rm -f "$c" >/dev/null
        done
        for i in $(seq 1 {n}); do
          docker inspect bench$i >/dev/null 2>&1 ||
            docker run -dit --name bench$i busybox sh >/dev/null
        done
        true""")


def baseline_cmd(lab: LabAccess) -> list[str]:
    """One docker exec that dumps `ip -j link` in every namespace of the current snapshot."""
    pids = lab.run("for c in $(docker ps -q); do docker inspect -f '{{.State.Pid}}' $c; done")
    script = "ip -j link >/dev/null; " + " ".join(
        f"nsenter -t {p} -n ip -j link >/dev/null;" for p in pids.split())
    return ["docker", "exec", lab.name, "sh", "-c", script]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench(lab: LabAccess, probe: ProbeSession, n: int, runs: int) -> dict[str, float]:
    set_containers(lab, n)
    prev = probe.snapshot()
    for _ in range(2):  # warm: docker inspect cache, page cache, dot's fonts
        prev = probe.snapshot()
        to_svg(to_dot(prev))
    snap_t, render_t, layout_t, total_t, base_t = [], [], [], [], []
    base = baseline_cmd(lab)
    for _ in range(runs):
        t0 = time.perf_counter()
        topo = probe.snapshot()
        t1 = time.perf_counter()
        d = diff(prev, topo)
        dot = to_dot(topo, diff=d)
        t2 = time.perf_counter()
        to_svg(dot)
        t3 = time.perf_counter()
        prev = topo
        snap_t.append(t1 - t0)
        render_t.append(t2 - t1)
        layout_t.append(t3 - t2)
        total_t.append(t3 - t0)
        b0 = time.perf_counter()
        subprocess.run(base, check=True, capture_output=True)
        base_t.append(time.perf_counter() - b0)
    return {
        "containers": n,
        "namespaces": len(prev.namespaces),
        "probe_ms": dict(prev.probe).get("elapsed_ms", float("nan")),
        "snapshot_ms": median_ms(snap_t),
        "diff_dot_ms": median_ms(render_t),
        "layout_ms": median_ms(layout_t),
        "refresh_ms": median_ms(total_t),
        "baseline_ms": median_ms(base_t),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lab")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args(argv)
    lab = LabAccess(find_lab(args.lab))
    probe = lab.probe()
    rows = []
    try:
        for n in args.sizes:
            rows.append(bench(lab, probe, n, args.runs))
    finally:
        probe.close()
        set_containers(lab, 0)
    print(f"lab {lab.name}, medians of {args.runs} runs, pyroute2 {probe.hello.get('pyroute2')}")
    head = ("containers", "namespaces", "probe(in lab)", "snapshot", "diff+dot", "layout(svg)",
            "refresh", "baseline ip -j link", "refresh/baseline")
    print("  ".join(f"{h:>{max(len(h), 8)}}" for h in head))
    for r in rows:
        cells = (r["containers"], r["namespaces"], f"{r['probe_ms']:.1f}",
                 f"{r['snapshot_ms']:.1f}", f"{r['diff_dot_ms']:.1f}", f"{r['layout_ms']:.1f}",
                 f"{r['refresh_ms']:.1f}", f"{r['baseline_ms']:.1f}",
                 f"{r['refresh_ms'] / r['baseline_ms']:.2f}x")
        print("  ".join(f"{str(c):>{max(len(h), 8)}}" for c, h in zip(cells, head, strict=True)))
    print("(ms; targets: refresh <= 150 at 10 containers and <= 1.5x baseline; "
          "layout <= 100 at 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

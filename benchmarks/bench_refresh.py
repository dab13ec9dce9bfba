"""What a learner waits for after each cell, against plotnetcfg and the `docker exec` floor.

    python benchmarks/bench_refresh.py [--peer PATH] [--sizes 10,50,100] [--runs 15]
                                       [--lab NAME | --throwaway [--image IMAGE]]

For each size it starts that many busybox containers (bench1..benchN, `sleep 1d`) in the lab,
then, in the same loop so that every figure sees the same machine:
  changed   = a cell that changed one thing (a bridge added or removed in the lab; not
              timed), then what `%%lab` does after it: `lab.after_cell()` through the public
              `Lab` API (snapshot over the kept-alive probe + steady + diff + DOT) and the SVG;
  unchanged = `lab.after_cell()` again with nothing changed (it says so: no SVG to make);
  peer      = `docker exec LAB plotnetcfg -f dot` piped into `dot -Tsvg` here, on the notebook
              side (--peer: a plotnetcfg binary built for the lab; see docs/benchmarks.md);
  floor     = `docker exec LAB true`, the cheapest thing that reaches the lab at all;
and prints median and p90 of each, labkit/peer (changed over peer) and unchanged/floor.
Then a breakdown (medians): the probe's own scan time in the lab, the whole snapshot as the
notebook sees it, steady + diff + DOT, and the SVG; and the probe's memory (VmRSS and its peak
VmHWM of the `--serve` process, from the lab's /proc). Targets (issue 12): labkit/peer <= 0.8
at every size, unchanged <= 1.2x the floor, the layout of 100 containers <= 100 ms.

It leaves the lab as it found it: the bench* containers, the bridge and the copied peer
binary are removed at the end. The lab: --lab, else $LABKIT_LAB, else the container labelled
org.labkit.role=lab; --throwaway starts a lab of its own (labkit-bench-lab: the lab image with
docker-compose.nopriv.yml's capability set, no network) and removes it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.draw.dot import to_dot  # noqa: E402
from labkit.draw.svg import to_svg  # noqa: E402
from labkit.lab import Lab, NoChange  # noqa: E402
from labkit.model.diff import diff, steady  # noqa: E402

THROWAWAY = "labkit-bench-lab"
LAB_IMAGE = "labkit-lab:latest"
PEER_IN_LAB = "/tmp/labkit-bench/plotnetcfg"
# the one thing a "changed" cell changes: a bridge (the lab's kernel has no dummy module)
CHANGE = "benchbr0"


# --- the lab: found, or a throw-away one started -------------------------------------------

def docker(*args: str, timeout: float = 600, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)[:80]!r} failed: {done.stderr.strip()}")
    return done.stdout


def find_lab(explicit: str | None) -> str:
    name = explicit or os.environ.get("LABKIT_LAB")
    if name:
        return name
    out = docker("ps", "--filter", "label=org.labkit.role=lab", "--format", "{{.Names}}")
    if not out.split():
        raise SystemExit("no lab running: start one (labkit up), pass --lab NAME, or "
                         "--throwaway")
    return out.split()[0]


def start_throwaway(image: str = LAB_IMAGE) -> str:
    """The lab image with docker-compose.nopriv.yml's capability set, on no network at all."""
    docker("rm", "-f", "-v", THROWAWAY, check=False)
    docker("run", "-d", "--name", THROWAWAY, "--network", "none",
           "--label", "org.labkit.role=test-throwaway",
           "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
           "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
           "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", image)
    for _ in range(240):  # the entrypoint says ready once the inner engine and busybox are
        if subprocess.run(["docker", "exec", THROWAWAY, "test", "-e", "/run/labkit/ready"],
                          capture_output=True).returncode == 0:
            return THROWAWAY
        time.sleep(0.5)
    raise SystemExit(f"{THROWAWAY} did not become ready: {docker('logs', THROWAWAY)[-500:]}")


def in_lab(lab: str, script: str) -> str:
    return docker("exec", lab, "bash", "-c", script)


def set_containers(lab: str, n: int) -> None:
    """Exactly n bench containers: bench1..benchN (busybox, `sleep 1d`)."""
    in_lab(lab, f"""
        for c in $(docker ps -a --format '{{{{.Names}}}}' | grep '^bench[0-9]*$'); do
          i=${{c#bench}}; [ "$i" -gt {n} ] && docker rm -f "$c" >/dev/null
        done
        for i in $(seq 1 {n}); do
          docker inspect bench$i >/dev/null 2>&1 ||
            docker run -d --name bench$i busybox sleep 1d >/dev/null
        done
        true""")


def probe_memory(lab: str, pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in kB of the lab's process `pid` (the probe's hello says its pid)."""
    status = in_lab(lab, f"cat /proc/{pid}/status")
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
          if line.startswith(("VmRSS", "VmHWM"))}
    return kb["VmRSS"], kb["VmHWM"]


# --- what is timed ----------------------------------------------------------------------------

def timed(what: Callable[[], object]) -> float:
    t = time.perf_counter()
    what()
    return (time.perf_counter() - t) * 1000


def peer_refresh(lab: str) -> None:
    """plotnetcfg in the lab, its DOT through a pipe into `dot -Tsvg` here."""
    scan = subprocess.Popen(["docker", "exec", lab, PEER_IN_LAB, "-f", "dot"],
                            stdout=subprocess.PIPE)
    layout = subprocess.run(["dot", "-Tsvg"], stdin=scan.stdout, capture_output=True)
    scan.stdout.close()
    if scan.wait() != 0 or layout.returncode != 0 or not layout.stdout:
        raise SystemExit(f"the peer failed: {layout.stderr.decode()[-300:]}")


def labkit_refresh(lab: Lab, expect_change: bool) -> None:
    """What a %%lab cell does once its command has run: after_cell, and the SVG it shows."""
    shown = lab.after_cell()
    if isinstance(shown, NoChange):
        if expect_change:
            raise SystemExit("after_cell saw no change after a cell that changed something")
        return
    if not expect_change:
        raise SystemExit(f"after_cell saw a change where there was none: {shown.text()}")
    shown.svg()


def toggle_change(lab: Lab, present: bool) -> bool:
    lab.sh(f"ip link del {CHANGE}" if present else f"ip link add {CHANGE} type bridge")
    return not present


def stats(samples: list[float]) -> tuple[float, float]:
    """(median, p90) in ms."""
    p90 = statistics.quantiles(samples, n=10, method="inclusive")[8] if len(samples) > 1 \
        else samples[0]
    return statistics.median(samples), p90


def bench(lab: Lab, n: int, runs: int, peer: bool) -> dict[str, object]:
    set_containers(lab.name, n)
    present = False
    for _ in range(2):  # warm: docker inspect cache, page cache, dot's fonts
        present = toggle_change(lab, present)
        labkit_refresh(lab, expect_change=True)
        if peer:
            peer_refresh(lab.name)
    t: dict[str, list[float]] = {k: [] for k in ("changed", "unchanged", "peer", "floor")}
    for _ in range(runs):
        present = toggle_change(lab, present)  # the cell's own work: not timed
        t["changed"].append(timed(lambda: labkit_refresh(lab, expect_change=True)))
        t["unchanged"].append(timed(lambda: labkit_refresh(lab, expect_change=False)))
        if peer:
            t["peer"].append(timed(lambda: peer_refresh(lab.name)))
        t["floor"].append(timed(lambda: docker("exec", lab.name, "true")))
    # Where the time goes: the same steps one by one (lab.draw's, without the Diagram).
    parts: dict[str, list[float]] = {k: [] for k in ("probe", "snapshot", "pure", "svg")}
    prev = steady(lab.snapshot())
    for _ in range(runs):
        present = toggle_change(lab, present)
        t0 = time.perf_counter()
        raw = lab.snapshot()
        t1 = time.perf_counter()
        topo = steady(raw)
        dot = to_dot(topo, diff=diff(prev, topo))
        t2 = time.perf_counter()
        to_svg(dot)
        t3 = time.perf_counter()
        prev = topo
        parts["probe"].append(dict(raw.probe).get("elapsed_ms", float("nan")))
        parts["snapshot"].append((t1 - t0) * 1000)
        parts["pure"].append((t2 - t1) * 1000)
        parts["svg"].append((t3 - t2) * 1000)
    if present:
        toggle_change(lab, present)
    rss, hwm = probe_memory(lab.name, int(lab._probe.hello["pid"]))  # the bench's own probe
    return {"containers": n, "namespaces": len(raw.namespaces),
            **{k: stats(v) for k, v in t.items() if v},
            **{k: statistics.median(v) for k, v in parts.items()},
            "rss_kb": rss, "hwm_kb": hwm}


# --- the report -------------------------------------------------------------------------------

def table(rows: list[dict[str, object]], peer: bool) -> list[str]:
    def ms(pair: tuple[float, float]) -> str:
        return f"{pair[0]:.0f}/{pair[1]:.0f}"

    head = ["containers", "netns", "changed", "unchanged"] + (["peer"] if peer else []) + \
        ["floor"] + (["labkit/peer"] if peer else []) + \
        ["unchanged/floor", "probe RSS (peak)"]
    lines = ["  ".join(f"{h:>10}" for h in head)]
    for r in rows:
        cells = [str(r["containers"]), str(r["namespaces"]), ms(r["changed"]),
                 ms(r["unchanged"])] + ([ms(r["peer"])] if peer else []) + [ms(r["floor"])]
        if peer:
            cells.append(f"{r['changed'][0] / r['peer'][0]:.2f}x")
        cells += [f"{r['unchanged'][0] / r['floor'][0]:.2f}x",
                  f"{r['rss_kb'] / 1024:.1f} ({r['hwm_kb'] / 1024:.1f}) MiB"]
        lines.append("  ".join(f"{c:>{max(len(h), 10)}}" for c, h in zip(cells, head,
                                                                            strict=True)))
    lines += ["", "where labkit's changed refresh goes (medians, ms):",
              "  containers  probe(in lab)  snapshot  steady+diff+dot  svg(dot)"]
    lines += [f"  {r['containers']:>10}  {r['probe']:>13.1f}  {r['snapshot']:>8.1f}  "
              f"{r['pure']:>15.1f}  {r['svg']:>8.1f}" for r in rows]
    return lines


def parse_sizes(text: str) -> list[int]:
    return [int(s) for s in text.replace(",", " ").split()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = p.add_mutually_exclusive_group()
    where.add_argument("--lab", help="the lab container (default: $LABKIT_LAB, else by label)")
    where.add_argument("--throwaway", action="store_true",
                       help=f"start a lab of its own ({THROWAWAY}) and remove it at the end")
    p.add_argument("--image", default=LAB_IMAGE,
                   help=f"the lab image --throwaway starts (default {LAB_IMAGE})")
    p.add_argument("--peer", type=Path, help="a plotnetcfg binary that runs in the lab image")
    p.add_argument("--sizes", type=parse_sizes, default=[10, 50, 100],
                   help="container counts, comma-separated (default 10,50,100)")
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args(argv)
    if args.peer and not args.peer.is_file():
        raise SystemExit(f"--peer {args.peer}: no such file")
    name = start_throwaway(args.image) if args.throwaway else find_lab(args.lab)
    rows = []
    try:
        if args.peer:
            in_lab(name, f"mkdir -p {Path(PEER_IN_LAB).parent}")
            docker("cp", str(args.peer), f"{name}:{PEER_IN_LAB}")
        lab = Lab.connect(name=name)
        try:
            for n in args.sizes:
                rows.append(bench(lab, n, args.runs, peer=bool(args.peer)))
        finally:
            lab.close()
    finally:
        if args.throwaway:
            docker("rm", "-f", "-v", name, check=False)
        else:
            set_containers(name, 0)
            in_lab(name, f"ip link del {CHANGE} 2>/dev/null; rm -rf {Path(PEER_IN_LAB).parent}")
    print(f"lab {name}, {args.runs} runs per size, median/p90 in ms")
    print("\n".join(table(rows, peer=bool(args.peer))))
    if not args.peer:
        print("(the peer was not given: --peer PATH to a plotnetcfg binary adds it)")
    print("(targets: labkit/peer <= 0.8 at every size; unchanged <= 1.2x floor; "
          "svg of 100 containers <= 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

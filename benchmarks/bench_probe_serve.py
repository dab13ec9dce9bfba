"""What keeping the probe alive saves: one snapshot over the kept-alive probe (`--serve`, as a
notebook session keeps it) against a fresh probe for each snapshot, in the same run.

    python benchmarks/bench_probe_serve.py [--lab NAME] [--runs 15]

  kept  = `ProbeSession.snapshot()` on one probe started once (a request line, a JSON line);
  fresh = start the probe (`docker exec` + python3 + pyroute2's import), take one snapshot,
          close it: what every cell would pay without the kept-alive probe.
Prints both medians and fresh/kept. It changes nothing in the lab.
The lab: --lab, else $LABKIT_LAB, else the container labelled org.labkit.role=lab.
(Was tests/lab/test_probe_scenarios.py::test_serve_is_fast_enough_to_keep, which printed one
figure and asserted nothing.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.lab import Lab  # noqa: E402
from labkit.transport.probe_client import SERVE_ARGV, ProbeSession  # noqa: E402


def open_probe(lab: Lab) -> ProbeSession:
    return ProbeSession(lab.transport.open_pipe(list(SERVE_ARGV)))


def fresh_snapshot(lab: Lab) -> None:
    probe = open_probe(lab)
    try:
        probe.snapshot()
    finally:
        probe.close()


def median_ms(what: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        what()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lab", default=os.environ.get("LABKIT_LAB"))
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args(argv)
    lab = Lab.connect(name=args.lab)
    kept = open_probe(lab)
    try:
        for _ in range(2):  # warm both paths: docker inspect cache, page cache
            kept.snapshot()
            fresh_snapshot(lab)
        # Interleaved rounds, so a slow spell of the host hits both figures alike.
        kept_ms, fresh_ms = [], []
        for _ in range(args.runs):
            kept_ms.append(median_ms(kept.snapshot, 1))
            fresh_ms.append(median_ms(lambda: fresh_snapshot(lab), 1))
    finally:
        kept.close()
    k, f = statistics.median(kept_ms), statistics.median(fresh_ms)
    print(f"lab {lab.name}, medians of {args.runs} runs, pyroute2 {kept.hello.get('pyroute2')}")
    print(f"{'kept-alive probe':>18}  {'fresh probe':>12}  {'fresh/kept':>10}")
    print(f"{k:>15.1f} ms  {f:>9.1f} ms  {f / k:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks of the lab core, printed with the baselines measured in the same run.

    python benchmarks/bench_lab.py [--starts 3] [--runs 30]

1. Lab cold start, image present: a throw-away lab container (same image and options as
   docker-compose.nopriv.yml, label org.labkit.role=test-throwaway, never the course lab) is
   created and started; we time until its entrypoint says ready (/run/labkit/ready) and until
   Docker's healthcheck says healthy (the healthcheck runs every 2 s, so that figure is
   quantised). Each start uses a fresh inner volume, i.e. includes seeding busybox offline.
2. `lab.run("true")` round trip against the course lab, next to `docker exec LAB true`
   (docker CLI subprocess), medians of the same run and their ratio.

No assertions: figures only. Compare ratios across machines, not milliseconds.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import time

LAB_IMAGE = "labkit-lab:latest"


def throwaway_start(client) -> tuple[float, float, float]:
    """(create+start, until ready file, until healthy) in seconds for one fresh lab."""
    t0 = time.monotonic()
    container = client.containers.create(
        LAB_IMAGE, name=f"labkit-bench-{secrets.token_hex(3)}",
        labels={"org.labkit.role": "test-throwaway"},
        cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
        network_mode="none")
    try:
        container.start()
        started = time.monotonic() - t0
        ready = healthy = None
        while healthy is None:
            if time.monotonic() - t0 > 180:
                raise RuntimeError(f"{container.name} not healthy after 180 s")
            container.reload()
            if container.status != "running":
                raise RuntimeError(f"{container.name} is {container.status}: "
                                   + container.logs().decode(errors="replace")[-1000:])
            if ready is None:
                probe = container.exec_run(["test", "-e", "/run/labkit/ready"])
                if probe.exit_code == 0:
                    ready = time.monotonic() - t0
            if (container.attrs["State"].get("Health") or {}).get("Status") == "healthy":
                healthy = time.monotonic() - t0
                ready = ready or healthy
            else:
                time.sleep(0.05)
        return started, ready, healthy
    finally:
        container.remove(force=True, v=True)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="cold starts (median of)")
    parser.add_argument("--runs", type=int, default=30, help="round trips (median of)")
    args = parser.parse_args(argv)

    from labkit import Lab
    from labkit.hosts.docker import docker_client

    client = docker_client()
    version = client.version()
    print(f"Docker {version.get('Version')}, {version.get('Os')}/{version.get('Arch')}; "
          f"python {sys.version.split()[0]}")

    # 1. cold start ----------------------------------------------------------------------------
    starts = [throwaway_start(client) for _ in range(max(3, args.starts))]
    print(f"\nlab cold start, image present ({len(starts)} starts, fresh inner volume each):")
    for label, i in (("docker create + start", 0), ("entrypoint ready", 1),
                     ("healthcheck healthy", 2)):
        values = [s[i] for s in starts]
        print(f"  {label:24s} median {median_ms(values):7.0f} ms   "
              f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})")

    # 2. round trip ----------------------------------------------------------------------------
    lab = Lab.connect()
    name = lab.container.name
    for _ in range(3):  # warm up both paths
        lab.run("true")
        subprocess.run(["docker", "exec", name, "true"], check=True)
    n = max(20, args.runs)
    # interleave so that both see the same machine load
    ours, base = [], []
    for _ in range(n):
        ours += timed(lambda: lab.run("true"), 1)
        base += timed(lambda: subprocess.run(["docker", "exec", name, "true"], check=True), 1)
    m_ours, m_base = median_ms(ours), median_ms(base)
    print(f"\nround trip, {n} runs each, lab {name}:")
    print(f"  lab.run('true')          median {m_ours:7.1f} ms   "
          f"(min {min(ours) * 1000:.1f}, max {max(ours) * 1000:.1f})")
    print(f"  docker exec LAB true     median {m_base:7.1f} ms   "
          f"(min {min(base) * 1000:.1f}, max {max(base) * 1000:.1f})")
    print(f"  ratio lab.run / docker exec: {m_ours / m_base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

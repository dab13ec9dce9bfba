"""The Kubernetes lab's cost (issue 15): cluster start, memory, reset, with the lab's own
baseline measured in the same run.

    python benchmarks/bench_k8s.py [--cycles 3] [--pods 4] [--services 0]

In one throw-away lab of labkit-k8s:latest (label org.labkit.role=test-throwaway, network
none, never the course lab), cycle after cycle:

1. `k8s-lab up`: wall time until it returns (it waits for both workers' kubelets to report
   Ready, for the default ServiceAccount and for each kube-proxy's first sync), then PODS
   busybox pods pinned to the two workers in turn, timed until all are Ready (`kubectl
   wait`), and SERVICES Services in front of them (every other one a NodePort), waited for
   until both kube-proxies have written them (issue 16: reset must take those rules too);
2. memory: the proportional set size (PSS from /proc/PID/smaps_rollup: a page shared by k
   processes counts 1/k to each, so the sum is what the lab really holds) over the lab's
   processes with the cluster and its pods, against the same sum with no cluster (the
   baseline), and the largest programs;
3. `lab.reset()`: wall time, and the lab compared with its start state by the live test's
   comparison (tests/lab/test_k8s_lab.py `state`: processes, namespaces, links, routes,
   iptables, mounts, the cluster's files, the sysctls the kubelet would write).

Prints one line per cycle and the medians; exits 1 if a cycle's reset left anything behind
(`--cycles 10` is the issue's "reset returns to the start state, 10x in a row").
No assertions on time: figures only.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

# The live test's start-state comparison, so both judge "nothing left" the same way.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lab"))
from test_k8s_lab import K8S_IMAGE, THROWAWAY_LABEL, changes, state  # noqa: E402

from labkit import Lab  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_services import SERVICE, wait_for_rules  # noqa: E402

POD = """apiVersion: v1
kind: Pod
metadata: {{name: bench-{i}, labels: {{app: bench}}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: kube-node-{node}}}
  containers:
  - {{name: main, image: "busybox:latest", imagePullPolicy: Never, command: [sleep, "3600"]}}
"""


# PSS per process; a process gone between the two reads is skipped
PSS = ("for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) && "
       "k=$(awk '/^Pss:/ {print $2}' $d/smaps_rollup 2>/dev/null) && echo \"$k $c\"; done")


def pss_by_program(lab: Lab) -> Counter:
    """KiB of memory (PSS) per program name, over every process of the lab."""
    out: Counter = Counter()
    for line in lab.sh(PSS).splitlines():
        kib, _, comm = line.strip().partition(" ")
        if kib.isdigit():
            out[comm.strip()] += int(kib)
    return out


def cycle(lab: Lab, pods: int, services: int, start: dict[str, list[str]],
          baseline: int) -> dict[str, object]:
    t0 = time.monotonic()
    up = lab.run("k8s-lab up", timeout=300)
    up_s = time.monotonic() - t0
    if up.exit_code != 0:
        raise SystemExit(f"k8s-lab up failed:\n{up.output[-2000:]}")
    manifests = "---\n".join(POD.format(i=i, node=1 + i % 2) for i in range(pods))
    t1 = time.monotonic()
    lab.sh(f"kubectl apply -f - <<'EOF'\n{manifests}EOF")
    ready = lab.run("kubectl wait --for=condition=Ready pod --all --timeout=120s", timeout=150)
    pods_s = time.monotonic() - t1
    if ready.exit_code != 0:
        raise SystemExit(f"pods not Ready:\n{ready.output[-2000:]}")
    if services:
        made = "---\n".join(SERVICE.format(i=i, port=8000 + i,
                                           kind="NodePort" if i % 2 else "ClusterIP")
                            for i in range(services))
        lab.sh(f"kubectl apply -f - <<'EOF'\n{made}EOF")
        wait_for_rules(lab, services)
    mem = pss_by_program(lab)
    t2 = time.monotonic()
    report = lab.reset()
    reset_s = time.monotonic() - t2
    left = changes(start, state(lab))
    return {"up": up_s, "pods": pods_s, "reset": reset_s, "pss": sum(mem.values()) - baseline,
            "top": mem.most_common(6), "left": left, "warnings": report.warnings}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=3, help="up, pods, reset: how many times")
    p.add_argument("--pods", type=int, default=4, help="busybox pods per cycle (both workers)")
    p.add_argument("--services", type=int, default=0, help="Services in front of the pods")
    args = p.parse_args(argv)

    from labkit.hosts.docker import docker_client

    client = docker_client()
    if not client.images.list(name=K8S_IMAGE):  # `make bench` runs every benchmark
        print(f"bench_k8s: skipped, {K8S_IMAGE} is not built (`labkit up --k8s` builds it, "
              "about 10 min the first time)")
        return 0
    container = client.containers.run(
        K8S_IMAGE, detach=True, name=f"labkit-bench-k8s-{secrets.token_hex(3)}", hostname="lab",
        labels=THROWAWAY_LABEL, cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
        network_mode="none")
    try:
        lab = Lab.connect(name=container.name, wait=180)
        start = state(lab)
        baseline = sum(pss_by_program(lab).values())
        print(f"{K8S_IMAGE}: lab without a cluster {baseline / 1024:.0f} MiB PSS; "
              f"{args.cycles} cycles of up + {args.pods} pods + {args.services} Services + reset")
        print(f"{'cycle':>5} {'up s':>6} {'pods s':>7} {'reset s':>8} {'cluster MiB':>12}  left")
        rows, dirty = [], 0
        for n in range(1, args.cycles + 1):
            r = cycle(lab, args.pods, args.services, start, baseline)
            rows.append(r)
            bad = r["left"] or r["warnings"]
            dirty += bool(bad)
            print(f"{n:>5} {r['up']:>6.1f} {r['pods']:>7.1f} {r['reset']:>8.1f} "
                  f"{r['pss'] / 1024:>12.0f}  {'nothing' if not bad else bad}", flush=True)
        med = {k: statistics.median(float(r[k]) for r in rows) for k in ("up", "pods", "reset")}
        pss = statistics.median(float(r["pss"]) for r in rows) / 1024
        print(f"median: up {med['up']:.1f} s, {args.pods} pods Ready {med['pods']:.1f} s, "
              f"reset {med['reset']:.1f} s, cluster {pss:.0f} MiB PSS over the baseline")
        print("largest programs (last cycle, MiB): " + ", ".join(
            f"{name} {kib / 1024:.0f}" for name, kib in rows[-1]["top"]))
        print(f"resets back at the start state: {len(rows) - dirty} of {len(rows)}")
        return 1 if dirty else 0
    finally:
        container.remove(force=True, v=True)


if __name__ == "__main__":
    sys.exit(main())

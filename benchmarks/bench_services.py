"""The Services picture's cost (issue 16): the refresh after a cell with the Kubernetes cluster
running, without Services and with 10, measured in the same run; and the cluster's start.

    python benchmarks/bench_services.py [--services 10] [--pods 4] [--runs 15] [--peer BIN]

In one throw-away lab of labkit-k8s:latest (bench_refresh.py's `start_throwaway`: label
org.labkit.role=test-throwaway, network none, never the course lab):

1. `k8s-lab up` (timed), then PODS lab-web pods (label app=bench) on the two workers in turn;
2. the baseline: bench_refresh.py's loop (a cell that adds or removes a bridge, then what a
   `%%lab` cell does after it: `after_cell` and the SVG; the same with nothing changed; and
   `docker exec LAB true`, the floor) with only the API server's own Service;
3. SERVICES Services in front of those pods (every other one a NodePort), waited for until
   both workers' kube-proxies have written all of them, then the same loop again.

Prints both rows and the ratios with/without Services: what reading each worker's iptables
through its kube-proxy, and drawing the Services, cost a cell. The issue's target is the
diagram issue's: labkit/peer <= 0.8 (with --peer, plotnetcfg in the lab) and unchanged <= 1.2x
the floor. No assertions on time: figures only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_refresh import PEER_IN_LAB, bench, docker, in_lab, start_throwaway  # noqa: E402

from labkit.lab import Lab  # noqa: E402

K8S_IMAGE = "labkit-k8s:latest"

POD = """apiVersion: v1
kind: Pod
metadata: {{name: bench-{i}, labels: {{app: bench}}}}
spec:
  nodeSelector: {{kubernetes.io/hostname: kube-node-{node}}}
  containers:
  - {{name: web, image: lab-web, imagePullPolicy: Never, ports: [{{containerPort: 80}}]}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: bench-svc-{i}}}
spec:
  type: {kind}
  selector: {{app: bench}}
  ports: [{{port: {port}, targetPort: 80}}]
"""


def wait_for_rules(lab: Lab, services: int) -> float:
    """Seconds until both workers' nat tables hold a KUBE-SVC chain per Service (and the API
    server's): kube-proxy has written them all."""
    t0 = time.monotonic()
    count = ("for w in kube-node-1 kube-node-2; do k8s-lab exec $w iptables-save -t nat "
             "| grep -c '^:KUBE-SVC-'; done")
    while time.monotonic() - t0 < 120:
        if all(int(n) >= services + 1 for n in lab.sh(count).split()):
            return time.monotonic() - t0
        time.sleep(0.2)
    raise SystemExit(f"kube-proxy did not write {services} Services on both workers in 120 s")


def row(label: str, r: dict[str, object], peer: bool) -> str:
    def ms(key: str) -> str:
        return f"{r[key][0]:>5.0f}/{r[key][1]:<4.0f}"

    cells = [f"{label:<22}", ms("changed"), ms("unchanged"), ms("floor")]
    if peer:
        cells += [ms("peer"), f"{r['changed'][0] / r['peer'][0]:>6.2f}x"]
    cells += [f"{r['unchanged'][0] / r['floor'][0]:>6.2f}x", f"{r['probe']:>6.1f}",
              f"{r['pure']:>6.1f}", f"{r['svg']:>6.1f}"]
    return "  ".join(cells)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--services", type=int, default=10)
    p.add_argument("--pods", type=int, default=4, help="lab-web pods behind the Services")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--image", default=K8S_IMAGE)
    p.add_argument("--peer", type=Path, help="a plotnetcfg binary that runs in the lab image")
    args = p.parse_args(argv)
    if args.peer and not args.peer.is_file():
        raise SystemExit(f"--peer {args.peer}: no such file")
    if not docker("images", "-q", args.image).strip():  # `make bench` runs every benchmark
        print(f"bench_services: skipped, {args.image} is not built (`labkit up --k8s`)")
        return 0
    name = start_throwaway(args.image)
    try:
        if args.peer:
            in_lab(name, f"mkdir -p {Path(PEER_IN_LAB).parent}")
            docker("cp", str(args.peer), f"{name}:{PEER_IN_LAB}")
        lab = Lab.connect(name=name, wait=180)
        try:
            t0 = time.monotonic()
            up = lab.run("k8s-lab up", timeout=300)
            if up.exit_code != 0:
                raise SystemExit(f"k8s-lab up failed:\n{up.output[-2000:]}")
            up_s = time.monotonic() - t0
            pods = "---\n".join(POD.format(i=i, node=1 + i % 2) for i in range(args.pods))
            lab.sh(f"kubectl apply -f - <<'EOF'\n{pods}EOF")
            ready = lab.run("kubectl wait --for=condition=Ready pod --all --timeout=120s",
                            timeout=150)
            if ready.exit_code != 0:
                raise SystemExit(f"pods not Ready:\n{ready.output[-2000:]}")
            lab.after_cell()  # the pods drawn once: what follows changes only a bridge
            bare = bench(lab, 0, args.runs, peer=bool(args.peer))
            made = "---\n".join(SERVICE.format(i=i, port=8000 + i,
                                               kind="NodePort" if i % 2 else "ClusterIP")
                                for i in range(args.services))
            lab.sh(f"kubectl apply -f - <<'EOF'\n{made}EOF")
            synced = wait_for_rules(lab, args.services)
            drawn = len(lab.snapshot().services)
            lab.after_cell()
            full = bench(lab, 0, args.runs, peer=bool(args.peer))
        finally:
            lab.close()
    finally:
        docker("rm", "-f", "-v", name, check=False)

    print(f"{args.image}: k8s-lab up {up_s:.1f} s; {args.pods} pods; {args.services} Services "
          f"written by both kube-proxies {synced:.1f} s after kubectl apply; "
          f"{drawn} Service ports drawn (with the API server's)")
    print(f"medians/p90, ms; {args.runs} runs each")
    head = ["", "changed", "unchanged", "floor"] + (["peer", "lk/peer"] if args.peer else [])
    head += ["unch/fl", "probe", "dot", "svg"]
    print("  ".join(f"{h:<22}" if i == 0 else f"{h:>10}" for i, h in enumerate(head)))
    print(row("API server's only", bare, bool(args.peer)))
    print(row(f"{args.services} Services", full, bool(args.peer)))
    ratio = {k: full[k][0] / bare[k][0] for k in ("changed", "unchanged")}
    print(f"with/without Services: changed {ratio['changed']:.2f}x, unchanged "
          f"{ratio['unchanged']:.2f}x; probe {full['probe'] / bare['probe']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Test driver run *as the learner* (a non-root user, maybe under jail.py): performs steps with
labkit's real API and prints one JSON list of outcomes. Used by test_rootless_live.py.

    python3 driver.py '[{"detect": true}, {"connect": "rootless"}, {"run": "brctl show"},
                        {"reset": true}, {"stop": null}]'
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from labkit.errors import CommandTimeout, LabError
    from labkit.hosts import modes, rootless
    from labkit.lab import Lab

    lab: Lab | None = None
    out: list[dict] = []
    for step in json.loads(sys.argv[1]):
        t0 = time.monotonic()
        try:
            if "detect" in step:
                r = modes.detect(full=True)
                out.append({"mode": r.mode, "available": list(r.available),
                            "reasons": list(r.reasons), "warnings": list(r.warnings),
                            "text": str(r)})
            elif "connect" in step:
                transport = rootless.connect_rootless(step["connect"])
                lab = Lab(transport)
                found = rootless.find(transport.kind)
                out.append({"kind": transport.kind, "pid": transport.pid,
                            "timings": found.timings if found else None,
                            "docker_host": found.docker_host if found else None})
            elif "lab_connect" in step:  # what a notebook does: Lab.connect(), no arguments
                lab = Lab.connect()
                out.append({"mode": lab.mode, "text": lab.summary})
            elif "run" in step:
                assert lab is not None, "connect first"
                try:
                    res = lab.run(step["run"], timeout=step.get("timeout"))
                    out.append({"stdout": res.stdout, "stderr": res.stderr,
                                "exit_code": res.exit_code, "duration": res.duration})
                except CommandTimeout as exc:
                    out.append({"timed_out": True, "message": str(exc)})
            elif "reset" in step:
                assert lab is not None, "connect first"
                rep = lab.reset()
                out.append({"actions": list(rep.actions), "warnings": list(rep.warnings)})
            elif "containment" in step:
                assert lab is not None, "connect first"
                rep = lab.containment()
                out.append({"contained": rep.contained, "summary": rep.summary(),
                            "paths": [str(p) for p in rep.paths]})
            elif "stop" in step:
                out.append({"did": rootless.stop(step["stop"])})
            elif "find" in step:
                found = rootless.find(step["find"])
                out.append({"found": None if found is None else
                            {"kind": found.kind, "pid": found.pid, "ready": found.ready}})
            else:
                raise ValueError(f"unknown step {step}")
        except LabError as exc:
            out.append({"error": type(exc).__name__, "message": str(exc)})
        out[-1]["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

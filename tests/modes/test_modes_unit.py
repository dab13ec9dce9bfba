"""Pure parts of the live-mode choice: decisions over made-up host facts, and the small pure
helpers of the rootless lab (paths, nsenter argv, environment, the seccomp program)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from labkit.hosts.modes import (
    MODES,
    NEEDS_ROOTLESS,
    Check,
    HostFacts,
    decide,
    probe_static,
)
from labkit.hosts.rootless import Paths
from labkit.transport.local import search_path
from labkit.transport.nsenter import lab_env, nsenter_argv

ALL_TOOLS = {n: f"/usr/bin/{n}" for n in NEEDS_ROOTLESS}
YES = Check(True, "allowed")


def facts(**kw) -> HostFacts:
    """A learner's container on a permissive host: no Docker socket, namespaces and mount ok."""
    base = dict(docker=Check(False, "unix:///var/run/docker.sock does not exist"),
                userns=YES, netns=YES, mount=YES, sysfs=YES, tools=ALL_TOOLS,
                static_busybox=Check(True, "/usr/bin/busybox"))
    return HostFacts(**{**base, **kw})


# --- the decision -----------------------------------------------------------------------------


def test_usable_docker_engine_is_mode_1():
    r = decide(facts(docker=Check(True, "unix:///var/run/docker.sock answers")))
    assert (r.mode, r.number, r.available) == ("docker", 1, MODES)
    assert r.reasons == ("Docker engine: unix:///var/run/docker.sock answers",)
    assert r.live and r.docker_cells_live


def test_namespaces_and_mount_without_docker_is_rootless():
    r = decide(facts())
    assert (r.mode, r.number) == ("rootless", 2)
    assert r.available == ("rootless", "netns", "replay")
    assert r.reasons[0] == ("not docker: no usable Docker engine "
                            "(unix:///var/run/docker.sock does not exist)")
    assert "the docker0 lessons run live" in str(r)
    assert r.warnings == ()


def test_mount_refused_falls_to_netns():
    r = decide(facts(mount=Check(False, "unshare: cannot change root filesystem propagation: "
                                        "Operation not permitted"), sysfs=Check()))
    assert (r.mode, r.number) == ("netns", 3)
    assert "not rootless: mount(2) in a user namespace refused (unshare: cannot change" in \
        r.reasons[1]
    assert r.live and not r.docker_cells_live
    assert "the others show recordings" in str(r)


def test_user_namespaces_refused_is_replay_naming_only_the_first_refusal():
    r = decide(facts(userns=Check(False, "unshare failed: Operation not permitted"),
                     netns=Check(), mount=Check(), sysfs=Check()))
    assert (r.mode, r.number, r.available) == ("replay", 4, ("replay",))
    assert r.reasons[1] == ("not rootless: user namespaces refused (unshare failed: "
                            "Operation not permitted)")
    assert "not probed" not in str(r)
    assert not r.live


def test_missing_engine_binaries_fall_to_netns_and_say_which():
    tools = {k: v for k, v in ALL_TOOLS.items() if k not in ("dockerd", "runc")}
    r = decide(facts(tools=tools))
    assert r.mode == "netns"
    assert "not found: dockerd, runc" in r.reasons[1]


def test_dynamic_busybox_blocks_rootless():
    r = decide(facts(static_busybox=Check(False, "/bin/busybox is dynamically linked")))
    assert r.mode == "netns"
    assert "install busybox-static" in r.reasons[1]


def test_netns_needs_its_tools_too():
    tools = {k: v for k, v in ALL_TOOLS.items() if k != "nsenter"}
    assert decide(facts(tools=tools)).mode == "replay"


def test_missing_sysfs_is_a_warning_not_a_blocker():
    r = decide(facts(sysfs=Check(False, "mount: permission denied")))
    assert r.mode == "rootless"
    assert "brctl" in r.warnings[0]
    assert "! a fresh sysfs" in str(r)


@pytest.mark.parametrize(("forced", "mode", "says"), [
    ("netns", "netns", "LABKIT_LIVE_MODE=netns asks for this mode (the host also allows "
                       "rootless)"),
    ("replay", "replay", "LABKIT_LIVE_MODE=replay asks for this mode"),
    ("rootless", "rootless", None),
    ("docker", "rootless", "LABKIT_LIVE_MODE=docker asked for, but the host does not allow it: "
                           "no usable Docker engine"),
    ("fast", "rootless", "LABKIT_LIVE_MODE='fast' ignored (must be one of ['docker', "
                         "'rootless', 'netns', 'replay'])"),
])
def test_forcing_a_mode(forced, mode, says):
    r = decide(facts(), forced)
    assert r.mode == mode
    if says:
        assert any(reason.startswith(says) for reason in r.reasons), r.reasons
    else:
        assert not any("LABKIT_LIVE_MODE" in reason for reason in r.reasons)


def test_report_text_is_stable():
    assert str(decide(facts())) == (
        "live mode 2 of 4: rootless lab (dockerd in a user namespace of this container) — "
        "the docker0 lessons run live; the CNI lessons show recordings.\n"
        "  - not docker: no usable Docker engine (unix:///var/run/docker.sock does not exist)\n"
        "  - user namespaces and mount(2) allowed; dockerd /usr/bin/dockerd runs inside one")


# --- small pure helpers -----------------------------------------------------------------------


def test_search_path_adds_sbin_once():
    assert search_path("/usr/bin:/bin") == "/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
    assert search_path("/usr/sbin:/usr/bin") == "/usr/sbin:/usr/bin:/usr/local/sbin:/sbin"


def _elf(tmp_path: Path, name: str, interp: bool) -> str:
    """A minimal 64-bit little-endian ELF header with one program header."""
    head = bytearray(64 + 56)
    head[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", head, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", head, 0x36, 56, 1)  # e_phentsize, e_phnum
    struct.pack_into("<I", head, 64, 3 if interp else 1)  # PT_INTERP or PT_LOAD
    path = tmp_path / name
    path.write_bytes(bytes(head))
    return str(path)


def test_probe_static_reads_the_program_headers(tmp_path):
    assert probe_static(_elf(tmp_path, "static", interp=False)).ok is True
    dyn = probe_static(_elf(tmp_path, "dynamic", interp=True))
    assert dyn.ok is False and "dynamically linked" in dyn.detail
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert "not a 64-bit ELF" in probe_static(str(tmp_path / "script")).detail
    assert probe_static(None).detail == "not found"


def test_nsenter_argv():
    assert nsenter_argv(42, mount=True) == ["nsenter", "-U", "--preserve-credentials", "-n",
                                            "-m", "-t", "42", "--"]
    assert "-m" not in nsenter_argv(42, mount=False)


def test_lab_env_never_points_at_another_engine():
    env = lab_env({"PATH": "/usr/bin:/bin", "DOCKER_HOST": "tcp://10.0.0.9:2375",
                   "DOCKER_CONTEXT": "prod", "HOME": "/home/x"},
                  init_pid=7, client_pid=9, extra={"DOCKER_HOST": "unix:///run/docker.sock"})
    assert env["DOCKER_HOST"] == "unix:///run/docker.sock"
    assert "DOCKER_CONTEXT" not in env
    assert env["PATH"].endswith(":/usr/sbin:/sbin")
    assert (env["LABKIT_INIT_PID"], env["LABKIT_CLIENT"], env["HOME"]) == ("7", "9", "/home/x")


def test_paths_follow_xdg():
    p = Paths.for_kind("rootless", {"HOME": "/home/l", "XDG_RUNTIME_DIR": "/run/user/1000"})
    assert p.state == Path("/run/user/1000/labkit/rootless")
    # never under /run: the lab's /run is its own tmpfs, and the runc wrapper lives here
    assert p.data == Path("/home/l/.local/share/labkit/rootless")
    q = Paths.for_kind("netns", {"HOME": "/home/l"})
    assert q.state == Path("/home/l/.local/state/labkit/netns")
    assert q.record.name == "lab.json" and p.bin == p.data / "bin"


def test_jail_programs_end_in_allow_and_deny_what_they_say():
    import importlib.util

    spec = importlib.util.spec_from_file_location("jail", Path(__file__).parent / "jail.py")
    jail = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(jail)
    for profile in ("nomount", "nouserns"):
        prog = jail.program(profile)
        assert prog[-1] == (jail.RET, 0, 0, jail.RET_ALLOW)
        assert len(prog) < 100
        for code, jt, jf, _k in prog:  # every jump lands inside the program
            assert code & 0x07 != 0x05 or max(jt, jf) < len(prog)
    compares = {k for code, _, _, k in jail.program("nomount") if code == jail.JEQ}
    assert jail.MOUNT_CALLS["mount"] in compares
    with pytest.raises(SystemExit):
        jail.program("everything")

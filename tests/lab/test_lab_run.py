"""Running commands in the live lab: Result, streams, streaming, the magics (in IPython and in
a real Jupyter kernel), the CLI, and `docker compose exec dind`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from labkit import Lab, Result

pytestmark = pytest.mark.lab


def labkit_cli(*args: str, timeout: float = 120, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True,
                          text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


# --- lab.run --------------------------------------------------------------------------------


def test_connect_finds_the_lab(lab):
    again = Lab.connect()
    assert again.mode == "docker-exec"
    assert again.container.id == lab.container.id
    assert again.alive()


def test_run_returns_a_result(lab):
    res = lab.run("brctl show")
    assert isinstance(res, Result)
    assert res.command == "brctl show"
    assert res.exit_code == 0 and res.ok
    assert "docker0" in res.stdout and res.stderr == ""
    assert 0 < res.duration < 10


def test_stdout_and_stderr_are_kept_apart(lab):
    res = lab.run("echo to-out; echo to-err >&2; echo out2; echo err2 >&2")
    assert res.stdout == "to-out\nout2\n"
    assert res.stderr == "to-err\nerr2\n"


def test_stdout_is_never_lost(lab):
    """Docker delivers stdout and stderr separately: the end-of-command marker on stderr
    must not cut off stdout still in flight (seen: ~5 % of `echo x` came back empty)."""
    lost = [i for i in range(200) if lab.run("echo x").stdout != "x\n"]
    assert lost == [], f"stdout lost in {len(lost)} of 200 runs of `echo x`"


def test_exit_code_passes_through(lab):
    for code in (0, 1, 2, 42, 255):
        assert lab.run(f"exit {code}").exit_code == code


def test_commands_run_as_root_in_bash_in_root_home(lab):
    assert lab.sh("id -u; echo $BASH_VERSION | cut -c1; pwd") == "0\n5\n/root\n"


def test_large_output_arrives_whole_when_asked(lab):
    res = lab.run("seq 1 200000", max_output=0)  # 1.3 MB
    assert res.ok and res.stdout.count("\n") == 200000
    assert res.stdout.endswith("199999\n200000\n")


def test_20_mb_of_output_is_bounded_and_keeps_its_exit_status(lab):
    """Jupyter's IOPub limit would drop such a cell's output, exit status and diagram."""
    res = lab.run("head -c 20000000 /dev/zero | tr '\\0' x; echo; echo last line; exit 3")
    assert res.exit_code == 3
    assert len(res.stdout) < 600_000 and res.stdout.startswith("x" * 1000)
    assert res.stdout.endswith("last line\n")
    assert "19.5 MB of output left out here" in res.stdout, res.stdout[249_000:251_000]


def test_unicode_output(lab):
    assert lab.sh("printf 'naïve → 日本 🐳\\n'") == "naïve → 日本 🐳\n"


def test_background_job_does_not_hang_the_command(lab):
    start = time.monotonic()
    res = lab.run("sleep 100 & echo started", timeout=20)
    assert res.ok and res.stdout == "started\n"
    assert time.monotonic() - start < 5


def test_output_is_streamed(lab):
    """on_output sees the first line about a second before the command ends."""
    seen: list[tuple[float, str, str]] = []
    start = time.monotonic()
    res = lab.run("echo a; sleep 1; echo b >&2; sleep 0.3; echo c",
                  on_output=lambda s, t: seen.append((time.monotonic() - start, s, t)))
    end = time.monotonic() - start
    assert res.stdout == "a\nc\n" and res.stderr == "b\n"
    first_at, stream, text = seen[0]
    assert (stream, text) == ("stdout", "a\n")
    assert end - first_at >= 0.9, seen
    assert [(s, t) for _, s, t in seen] == [("stdout", "a\n"), ("stderr", "b\n"),
                                            ("stdout", "c\n")]


# --- magics in a real IPython shell ---------------------------------------------------------


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    yield ip


def run_in(shell, source: str):
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        result = shell.run_cell(source)
    return result, cap.stdout, cap.stderr


def test_connect_in_ipython_registers_the_magics(lab, shell):
    outcome, out, _ = run_in(shell, "from labkit import Lab\nlab = Lab.connect()\nlab")
    assert outcome.success, outcome.error_in_exec
    assert "lab" in shell.magics_manager.magics["cell"]
    assert "lab" in shell.magics_manager.magics["line"]
    assert out.startswith("Out[") and "Lab ready" in out and "docker" in out


def test_cell_magic_runs_lines_in_the_lab(lab, shell):
    lab._activate()
    outcome, out, err = run_in(shell, "%%lab\nbrctl show\nifconfig docker0 | grep inet\n")
    assert outcome.success, outcome.error_in_exec
    assert "docker0" in out and "172.17.0.1" in out
    assert err == ""


def test_cell_magic_shows_stderr_and_exit_status(lab, shell):
    lab._activate()
    outcome, out, err = run_in(shell, "%%lab\necho fine\nls /no-such-dir\n")
    assert outcome.success  # a failing command is output, not a kernel error
    assert out == "fine\n"
    assert "No such file or directory" in err
    assert err.rstrip().endswith("[exit status 2]")


def test_cell_magic_command_not_found_hint(lab, shell):
    lab._activate()
    _, _, err = run_in(shell, "%%lab\nnosuchcmd\n")
    assert "[exit status 127] `nosuchcmd` is not installed in the lab" in err


def test_cell_magic_state_carries_between_lines(lab, shell):
    lab._activate()
    _, out, _ = run_in(shell, "%%lab\ncd /tmp\nX=42\necho $PWD $X\n")
    assert out == "/tmp 42\n"


def test_line_magic(lab, shell):
    lab._activate()
    outcome, out, err = run_in(shell, "%lab ip -o -4 addr show docker0 | awk '{print $4}'")
    assert outcome.success and out == "172.17.0.1/16\n" and err == ""
    _, _, err = run_in(shell, "%lab exit 3")
    assert err == "[exit status 3]\n"


def test_cell_magic_timeout_is_a_clear_error(lab, shell):
    lab._activate()
    outcome, out, _ = run_in(shell, "%%lab --timeout 1\necho started\nsleep 30\n")
    assert type(outcome.error_in_exec).__name__ == "CommandTimeout"
    assert "started" in out
    assert "Traceback" not in out  # IPython shows the paragraph, not a traceback wall
    assert "was still running after 1 s" in out


def test_cell_magic_check_and_bad_option(lab, shell):
    lab._activate()
    outcome, _, _ = run_in(shell, "%%lab --check\nfalse\n")
    assert type(outcome.error_in_exec).__name__ == "CommandFailed"
    outcome, out, _ = run_in(shell, "%%lab --verbose\ntrue\n")
    assert type(outcome.error_in_exec).__name__ == "UsageError"
    assert "must be one of [--timeout, --max-output, --check, --no-draw, --capture]" in out


# --- magics in a real Jupyter kernel ----------------------------------------------------------


def test_magics_in_a_jupyter_kernel(lab):
    """A real ipykernel: stdout and stderr arrive as separate stream messages."""
    manager = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    km, kc = manager.start_new_kernel(kernel_name="python3",
                                      env={**os.environ, "LABKIT_LAB": lab.container.id})
    try:
        def execute(code: str) -> tuple[dict, list[tuple[str, str]]]:
            msg_id = kc.execute(code)
            streams, status = [], None
            while True:
                msg = kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    streams.append((msg["content"]["name"], msg["content"]["text"]))
                elif kind == "error":
                    status = msg["content"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return status or {}, streams

        err, _ = execute("from labkit import Lab\nlab = Lab.connect()")
        assert not err, err
        err, streams = execute("%%lab\necho a\nsleep 0.5\necho b >&2\nexit 5\n")
        assert not err, err
        out = "".join(t for s, t in streams if s == "stdout")
        errs = "".join(t for s, t in streams if s == "stderr")
        assert out == "a\n"
        assert errs == "b\n[exit status 5]\n"
        err, _ = execute("%%lab --timeout 1\nsleep 20\n")
        assert err["ename"] == "CommandTimeout"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_run_passes_the_exit_code(lab):
    done = labkit_cli("run", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert done.returncode == 7
    assert done.stdout == "out\n" and done.stderr == "err\n"


def test_cli_run_a_shell_line(lab):
    done = labkit_cli("run", "--", "brctl show | grep -c docker0")
    assert done.returncode == 0 and done.stdout == "1\n"


def test_cli_run_words_are_quoted(lab):
    done = labkit_cli("run", "--", "echo", "a  b", "$HOME")
    assert done.returncode == 0 and done.stdout == "a  b $HOME\n"


def test_cli_run_timeout(lab):
    done = labkit_cli("run", "--timeout", "1", "--", "sleep 30")
    assert done.returncode == 124
    assert "was still running after 1 s" in done.stderr


def test_cli_run_without_a_command(lab):
    done = labkit_cli("run", "--")
    assert done.returncode == 2 and "no command given" in done.stderr


def test_cli_doctor_with_the_live_lab(lab):
    done = labkit_cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[ok  ] Docker engine" in done.stdout
    assert "[ok  ] lab answers: docker0 172.17.0.1/16, busybox image present" in done.stdout
    assert done.stdout.rstrip().endswith("The lab is usable.")


def test_cli_reset(lab):
    lab.sh("docker run -d --name leftover busybox sleep 1000")
    done = labkit_cli("reset", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed container leftover" in done.stdout
    assert done.stdout.rstrip().endswith("The lab is back at its starting state.")
    assert lab.sh("docker ps -aq") == ""


# --- `docker compose exec dind ...` (the seed's way into the lab) ---------------------------


def test_compose_exec_dind(lab):
    from labkit.hosts import compose

    if lab.container.project is None:
        pytest.skip(f"the lab {lab.name} was not started by compose (LABKIT_LAB?)")
    project = compose.find_project_dir()
    c = compose.Compose(compose.compose_command(), project)
    done = subprocess.run(c.argv("exec", "-T", "dind", "bash", "-c",
                                 "brctl show; id -un; hostname"),
                          cwd=project, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "docker0" in done.stdout
    assert done.stdout.splitlines()[-2:] == ["root", "lab"]


def test_repr_has_no_container_name(lab):
    """Stored notebook outputs must not depend on Compose v1 vs v2 container names."""
    assert lab.name not in repr(lab)
    assert repr(lab) == "<Lab: ready, commands run by docker-exec>"


def test_the_lab_carries_only_what_runs_there(lab):
    """The lab image holds the probe, the model and the scripts (with Debian's python3 and
    pyroute2), not the learner's side: `python3 -m labkit.probe` works, `labkit.lab` is absent."""
    out = lab.sh(textwrap.dedent("""\
        python3 - <<'EOF'
        import importlib.util, sys
        import labkit.probe.scan, labkit.probe.containment
        print(sorted(m for m in sys.modules if m.startswith("labkit")))
        print([m for m in ("labkit.lab", "labkit.notebook", "labkit.hosts", "labkit.transport")
               if importlib.util.find_spec(m) is not None])
        EOF
        ls /opt/labkit/labkit | grep -v __pycache__"""))
    modules, present, *listing = out.splitlines()
    assert all(m == "labkit" or m.startswith(("labkit.model", "labkit.probe"))
               for m in eval(modules)), modules
    assert present == "[]"
    assert sorted(listing) == ["__init__.py", "model", "probe", "scripts"]

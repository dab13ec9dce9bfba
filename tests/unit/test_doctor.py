"""doctor: the report text and the verdict (pure over the checks)."""

from __future__ import annotations

from labkit.cli.doctor import Check, report, usable

GOOD = [
    Check("Docker engine", True, "reachable, version 20.10.24"),
    Check("Compose", True, "docker-compose"),
    Check("lab container", True, "labkit_dind_1 is ready"),
    Check("lab answers", True, "docker0 172.17.0.1/16, busybox image present"),
]


def test_usable_when_the_lab_answers():
    assert usable(GOOD)
    text = report(GOOD)
    assert text.splitlines()[0] == "[ok  ] Docker engine: reachable, version 20.10.24"
    assert text.endswith("The lab is usable.")
    assert "what to do" not in text


def test_not_usable_without_the_live_check():
    checks = [Check("Docker engine", False, "not reachable", "start Docker")]
    assert not usable(checks)
    text = report(checks)
    assert "[FAIL] Docker engine: not reachable" in text
    assert "       what to do: start Docker" in text
    assert "NOT usable" in text and "fix the first FAIL" in text


def test_not_usable_when_the_lab_fails_to_answer():
    checks = GOOD[:-1] + [Check("lab answers", False, "timeout", "restart the lab")]
    assert not usable(checks)
    assert "what to do: restart the lab" in report(checks)


def test_empty_is_not_usable():
    assert not usable([])
    assert "NOT usable" in report([])


def test_not_applicable_mark_and_no_fix_for_passing_checks():
    checks = [Check("privileged containers", None, "could not test"),
              Check("Compose", True, "v1", fix="never shown")] + GOOD[-1:]
    text = report(checks)
    assert "[--  ] privileged containers: could not test" in text
    assert "never shown" not in text
    assert usable(checks)


def test_a_later_failure_does_not_hide_usability():
    """A warning-like FAIL after the live check (docker0 address) keeps the lab usable."""
    checks = GOOD + [Check("docker0 address", False, "172.18.0.1/16", "move the lab")]
    assert usable(checks)
    assert "what to do: move the lab" in report(checks)

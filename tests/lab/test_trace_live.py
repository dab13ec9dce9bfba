"""The packet tracer against the live lab: real pings and curls between the lab's own hosts,
the path from the kernel's answers, drawn as SVG."""

from __future__ import annotations

import pytest

from labkit.exercises.lessons import _lab
from labkit.model import trace as T
from labkit.widgets import explorer, packet_tracer, trace_packet

pytestmark = pytest.mark.lab

STATE = ("docker run -dit --name busybox1 busybox sh\n"
         "docker run -dit --name busybox2 busybox sh\n" + _lab.OUTSIDE_SETUP
         + "ip -n outside route add 172.17.0.0/16 via 203.0.113.1\n"
         "docker run -d --name web -p 8080:80 busybox sh -c "
         "'mkdir -p /var/www && echo hi > /var/www/index.html && httpd -f -p 80 -h /var/www'\n")


@pytest.fixture
def lesson_state(lab):
    lab.run(STATE, check=True)
    return lab


def test_ping_from_a_container_to_the_outside_host(lesson_state):
    got = trace_packet("busybox1", "outside", lab=lesson_state)
    path = got.path
    assert path.delivered and path.traffic.ok, got.text()
    assert path.nodes()[0] == ("busybox1", "eth0") and path.nodes()[-1] == ("outside", "eth0")
    assert any("MASQUERADE" in h.rule for h in path.traffic.hits)
    assert {("lab", "docker0"), ("lab", "out0")} <= {(s.namespace, s.interface)
                                                      for s in path.traffic.seen}
    assert got.svg().lstrip().startswith(("<?xml", "<svg"))


def test_curl_to_a_published_port_follows_the_dnat(lesson_state):
    got = trace_packet("outside", "203.0.113.1", 8080, lab=lesson_state)
    assert got.path.delivered, got.text()
    assert got.path.nodes()[-1][0] == "web"
    assert "--to-destination 172.17.0.4:80" in got.text()


def test_a_container_to_another_across_docker0(lesson_state):
    got = trace_packet("busybox1", "busybox2", lab=lesson_state)
    assert got.path.delivered and not got.path.warnings, got.text()
    assert "bridge -j fdb get 02:42:ac:11:00:03 br docker0" in got.text()


def test_nothing_outside_the_lab_is_ever_a_target(lesson_state):
    with pytest.raises(T.TraceError):
        trace_packet("busybox1", "192.0.2.99", lab=lesson_state)


def test_the_widgets_read_the_live_lab(lesson_state):
    tracer = packet_tracer(lesson_state)
    assert "outside 203.0.113.10 (eth0)" in tracer.text()
    tracer.source.value, tracer.destination.value = "busybox2", "172.17.0.1"
    assert tracer.run().path.delivered
    assert "<svg" in tracer.picture.value
    ex = explorer(lesson_state)
    ex.namespace.value = "outside"
    assert "172.17.0.0/16 via 203.0.113.1 dev eth0" in ex.details.value

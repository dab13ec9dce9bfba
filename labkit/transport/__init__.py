"""How a command reaches a lab: docker exec (docker.py), a local shell (local.py), nsenter into
a rootless lab (nsenter.py), replay from recordings and the recorder (replay.py); the probe
client (probe_client.py) speaks over any of them. Shared by the process transports: the
interface (protocol.py), the shell a command runs in (jobs.py), its output on the way back
(output.py)."""

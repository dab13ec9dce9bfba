"""How a command reaches a lab: docker exec, a local shell, nsenter into a rootless lab,
replay from recordings (and the recorder); the probe client speaks over any of them."""

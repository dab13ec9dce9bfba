"""The `labkit` command: the lab (up, down, reset, run, shell, topo, doctor, rootless, modes)
and the lessons (`labkit lesson ...`)."""

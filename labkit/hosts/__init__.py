"""Where a lab runs and how it is found or started: the Docker/compose lab, the rootless and
namespace-only labs, replay, and the detection of which of these this host allows (modes)."""

# The Go lab: the everyday lab plus Debian's Go toolchain and the CNI and netlink libraries, for
# lesson 9 (the series' article 6: a CNI plugin in Go). A variant, not the everyday lab: the
# toolchain adds about 335 MB, which the other lessons do not need. `labkit up --go` builds it
# (FROM the lab image, so that one is built first) and starts it as the course lab.
#
# Offline by design: the article's `go get -d -v ./...` fetches the libraries from the internet;
# here they are Debian packages under /usr/share/gocode, and Go runs in GOPATH mode
# (GO111MODULE=off) with GOPATH leading there, so `go build` needs no network. GOPROXY=off makes
# any attempt to fetch a module fail at once rather than hang at the lab's sealed edge.
ARG LAB_IMAGE=labkit-lab:latest
FROM ${LAB_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      golang-go golang-github-containernetworking-cni-dev \
      golang-github-containernetworking-plugins-dev golang-github-vishvananda-netlink-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV GO111MODULE=off GOPATH=/root/go:/usr/share/gocode GOPROXY=off CGO_ENABLED=0
# A build the lesson can rely on: fail here, not in the learner's first cell, if the libraries
# the plugin imports are missing.
RUN go list github.com/containernetworking/cni/pkg/skel github.com/containernetworking/plugins/pkg/ip \
      github.com/containernetworking/plugins/pkg/ns github.com/vishvananda/netlink >/dev/null
LABEL org.labkit.variant=go

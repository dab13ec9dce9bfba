"""Lesson 10 (pods and the pause container): build a pod by hand, the kubelet's way, with a
pause container and two containers in its network; give test-pod a second web server that
does not clash with the first on port 80. Needs the Kubernetes lab (`labkit up --k8s`)."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from labkit.exercises import Exercise
from labkit.exercises.lessons import _lab

if TYPE_CHECKING:
    from labkit.lab import Lab

PAUSE = "k8s.gcr.io/pause:3.2"
NO_K8S = ("this lab has no Kubernetes (`kubectl` is not found): lesson 10 needs the Kubernetes "
          "lab. In a terminal: `labkit up --k8s`, then run the lesson from the top")

# --- a pod by hand --------------------------------------------------------------------------

POD, WEB, SIDE = "pod-web", "web", "side"

#: BusyBox's nc sends a request to the pod's own localhost:80; any HTTP status line answers.
ASK_LOCALHOST = ("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 80 | head -n 1")


def _inspect(lab: Lab, name: str) -> dict | None:
    result = lab.run(f"docker inspect {shlex.quote(name)}")
    if not result.ok:
        return None
    found = json.loads(result.stdout)
    return found[0] if found else None


def _joined_elsewhere(lab: Lab, mode: str) -> str:
    """What a `container:ID` network mode that is not pod-web's points to, for a message."""
    other = mode.split(":", 1)[1]
    found = _inspect(lab, other)
    if found is None:  # e.g. pod-web removed and made again: the old one's id
        return f"a container that is gone (id {other[:12]}; was {POD} made again since?)"
    return f"{found['Name'].lstrip('/')}'s (id {other[:12]})"


def runs_httpd(top: str) -> bool:
    """`docker top` output (a header, then one process a line) lists a BusyBox httpd on port
    80: its default, or `-p 80` / `-p ADDR:80` (one on 8080 is not the one side reached)."""
    for line in top.splitlines()[1:]:
        words = line.split()
        at = next((i for i, w in enumerate(words) if w == "httpd" or w.endswith("/httpd")), None)
        if at is None:
            continue
        args = words[at + 1:]
        port = args[args.index("-p") + 1] if "-p" in args[:-1] else "80"
        if port.rpartition(":")[2] == "80":
            return True
    return False


def check_pod_by_hand(lab: Lab) -> list[str]:
    # first, as in lesson 10's other check: elsewhere nothing below can be right (no pause image)
    if not lab.run("command -v kubectl").ok:
        return [NO_K8S]
    pod = _inspect(lab, POD)
    if pod is None:
        return [f"there is no container {POD}: start it from the pause image, "
                f"`docker run -d --name {POD} {PAUSE}`"]
    problems = []
    if pod["Config"]["Image"] != PAUSE:
        problems.append(f"{POD} runs {pod['Config']['Image']}, not {PAUSE}: the container that "
                        "owns a pod's network should be one that does nothing")
    if not pod["State"]["Running"]:
        problems.append(f"{POD} is not running (`docker start {POD}`)")
    joined = f"container:{pod['Id']}"
    for name in (WEB, SIDE):
        found = _inspect(lab, name)
        if found is None:
            problems.append(f"there is no container {name}: start it with "
                            f"`--net=container:{POD}`")
            continue
        mode = found["HostConfig"]["NetworkMode"]
        if mode.startswith("container:") and mode not in (joined, f"container:{POD}"):
            problems.append(f"{name} joined another container's network, "
                            f"{_joined_elsewhere(lab, mode)}, not {POD}'s: remove it and "
                            f"start it again with `--net=container:{POD}`")
        elif mode not in (joined, f"container:{POD}"):
            problems.append(f"{name}'s NetworkMode is {mode}, so it has a network of its own: "
                            f"start it again with `--net=container:{POD}`")
        elif not found["State"]["Running"]:
            problems.append(f"{name} is not running (`docker logs {name}` says why)")
    if problems:
        return problems
    answer = lab.run(f"docker exec {SIDE} sh -c {shlex.quote(ASK_LOCALHOST)}", timeout=10)
    if not answer.stdout.startswith("HTTP/1."):
        return [f"{SIDE} gets no answer from localhost:80: is {WEB} running BusyBox's httpd on "
                f"port 80 (`docker exec {WEB} netstat -ltn`)?"]
    # an answer, but whose? the pod's containers share one set of ports: side may serve it
    top = lab.run(f"docker top {WEB}")
    if not runs_httpd(top.stdout):
        return [f"something answers on localhost:80, but {WEB} runs no web server (`docker top "
                f"{WEB}`): is it {SIDE}'s? The task wants it in {WEB} (`busybox httpd -f -p 80`)"
                f", {SIDE} as its client"]
    address = pod["NetworkSettings"]["IPAddress"]
    if not address:
        return [f"{POD} has no address: start it on Docker's default network (no --net)"]
    reply = lab.run(f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{address}/", timeout=10)
    if reply.stdout.strip() in ("", "000"):
        return [f"the lab host gets no answer from the pod at {address}:80"]
    return []


# --- two web servers, one pod ---------------------------------------------------------------

#: The lesson's cells before the exercise: the cluster, and the article's test-pod-1.
TEST_POD_1 = """\
cat > /root/test-pod-1.yaml <<"EOF"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: test-pod
  labels:
    app: lab-web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: lab-web
  template:
    metadata:
      labels:
        app: lab-web
    spec:
      nodeSelector:
        kubernetes.io/hostname: kube-node-2
      containers:
      - name: lab-web
        image: lab-web
        imagePullPolicy: Never
        ports:
        - containerPort: 80
          name: web-port
EOF
"""
CLUSTER = ("k8s-lab up\n" + TEST_POD_1 + "kubectl create -f /root/test-pod-1.yaml\n"
           "kubectl rollout status deployment/test-pod --timeout=90s | tail -n 1\n")


def _test_pods(lab: Lab) -> list[dict] | str:
    """The pods of test-pod (kubectl's JSON), or a sentence saying why there are none."""
    if not lab.run("command -v kubectl").ok:
        return NO_K8S
    result = lab.run("kubectl get pods -l app=lab-web -o json", timeout=30)
    if not result.ok:
        return ("kubectl cannot reach the cluster: is it up (`k8s-lab status`; "
                "`k8s-lab up` starts it)?")
    return [p for p in json.loads(result.stdout)["items"]
            if not p["metadata"].get("deletionTimestamp")]


#: the kubelet's reasons for a container it could not get the image of
PULL_FAILED = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
#: ... and for one on its way (the sandbox or the image being set up)
STARTING = ("ContainerCreating", "PodInitializing")


def container_problem(status: dict, pod: str) -> str | None:
    """What is wrong with one of kubectl's containerStatuses of POD; None when it is ready."""
    if status.get("ready"):
        return None
    name = status["name"]
    state = status.get("state") or {}
    waiting = state.get("waiting", {}).get("reason")
    if waiting in PULL_FAILED:
        return (f"{name} has no image ({waiting}, image {status.get('image', '?')}): the lab "
                "has no registry, so a node can only use an image its engine holds (lab-web, "
                "busybox) with `imagePullPolicy: Never`; `kubectl describe pod "
                f"{pod}` shows the event")
    if waiting in STARTING or not state:
        return (f"{name} is still starting ({waiting or 'no state yet'}): run the check again "
                "in a few seconds")
    ended = status.get("lastState", {}).get("terminated", {}).get("reason")
    return (f"{name} is not ready ({waiting or ended or 'starting'}): "
            f"`kubectl logs {pod} -c {name}` says why")


def check_port_clash(lab: Lab) -> list[str]:
    pods = _test_pods(lab)
    if isinstance(pods, str):
        return [pods]
    if not pods:
        return ["there is no test-pod pod: run the lesson's cell that creates the test-pod "
                "Deployment, then `kubectl apply` yours"]
    # the newest: while a new version is not ready, the Deployment keeps the old pod running
    pod = max(pods, key=lambda p: p["metadata"]["creationTimestamp"])
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in pod["spec"]["containers"]]
    if containers == ["lab-web"]:
        return ["test-pod still has one container, lab-web: `kubectl apply` a Deployment whose "
                "pod template adds lab-web-2"]
    if "lab-web-2" not in containers:
        return [f"test-pod's containers are {_lab.names(containers)}: the second one should be "
                "named lab-web-2"]
    if "lab-web" not in containers:  # the check asks from inside lab-web
        return [f"test-pod's containers are {_lab.names(containers)}: keep the first one, "
                "lab-web, as it was"]
    statuses = pod["status"].get("containerStatuses")
    if not statuses:  # scheduled (or not yet), no container made: nothing to judge yet
        return [f"{name} is still starting ({pod['status'].get('phase', 'Pending')}, no "
                "container yet): run the check again in a few seconds"]
    problems = [p for p in (container_problem(s, name) for s in statuses) if p]
    if problems:
        return problems
    code = lab.run(f"kubectl exec {name} -c lab-web -- curl -s -m 3 -o /dev/null "
                   "-w '%{http_code}' http://localhost:8080/", timeout=30).stdout.strip()
    if code in ("", "000"):
        return ["nothing answers on localhost:8080 inside test-pod: which port does lab-web-2 "
                "serve on?"]
    return []


EXERCISES = [
    Exercise(
        id="lesson10/pod-by-hand",
        title="A pod by hand",
        lesson="10-pods-pause.ipynb",
        task=(f"Build a pod by hand, the kubelet's way, in the lab's Docker: a pause container "
              f"named `{POD}` owning the network, and two containers in its network namespace: "
              f"`{WEB}`, running BusyBox's web server on port 80 (`busybox httpd -f -p 80`), and "
              f"`{SIDE}`, a busybox that stays up. Then show that `{SIDE}` reaches `{WEB}` at "
              "`localhost`, and that the lab host reaches the pod at one address."),
        check=check_pod_by_hand,
        hints=(
            f"Three `docker run`s: first the pause container ({PAUSE}), then each of the others "
            f"with `--net=container:{POD}`, as app1 and app2 joined pod1.",
            f"BusyBox has no wget that works here; its `nc` does: `docker exec {SIDE} sh -c "
            f"\"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 localhost 80\"`. The pod's address "
            f"is the pause container's: `docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' "
            f"{POD}`.",
        ),
        solution=(
            f"docker run -d --name {POD} {PAUSE}\n"
            f"docker run -d --name {WEB} --net=container:{POD} busybox httpd -f -p 80\n"
            f"docker run -dit --name {SIDE} --net=container:{POD} busybox\n"
            f"docker exec {SIDE} sh -c \"printf 'GET / HTTP/1.0\\r\\n\\r\\n' "
            "| nc -w 2 localhost 80 | head -n 1\"\n"
            f"curl -s -o /dev/null -w '%{{http_code}}\\n' "
            f"http://$(docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {POD})/\n"
        ),
    ),
    Exercise(
        id="lesson10/port-clash",
        title="Two web servers, one pod",
        lesson="10-pods-pause.ipynb",
        task=("Add a second container, lab-web-2 (image lab-web), to test-pod on the same port "
              "80, as the article did, and read with `kubectl logs` why it fails; then fix the "
              "pod the article's way: lab-web-2 serves on port 8080 (BusyBox's web server, "
              "`busybox httpd -f -p 8080`, from the lab-web image, standing in for the "
              "article's Tomcat). Done when test-pod has both containers ready and lab-web-2 "
              "answers on localhost:8080 from inside lab-web."),
        check=check_port_clash,
        hints=(
            "Copy /root/test-pod-1.yaml, add a second entry under `containers:` (name "
            "lab-web-2, image lab-web, imagePullPolicy Never) and `kubectl apply -f` it. "
            "`kubectl get pods` shows what happens; `kubectl logs POD -c lab-web-2` says why.",
            "Both containers are in one network namespace: one set of ports. Give lab-web-2 a "
            "`command:` that serves elsewhere, from nginx's document root (`-h`): "
            "[\"busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/var/www/html\"]. "
            "Then `kubectl exec POD -c lab-web -- curl -s "
            "localhost:8080/index.nginx-debian.html`.",
        ),
        solution=(
            "cat > /root/test-pod-3.yaml <<\"EOF\"\n"
            + TEST_POD_1.split('<<"EOF"\n', 1)[1].rsplit("EOF\n", 1)[0]
            + "      - name: lab-web-2\n"
            "        image: lab-web\n"
            "        imagePullPolicy: Never\n"
            "        command: [\"busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", "
            "\"/var/www/html\"]\n"
            "        ports:\n"
            "        - containerPort: 8080\n"
            "          name: web-2-port\n"
            "EOF\n"
            "kubectl apply -f /root/test-pod-3.yaml\n"
            "kubectl rollout status deployment/test-pod --timeout=90s | tail -n 1\n"
            # the newest pod: the old one may still be terminating, and deploy/ can pick it
            "POD=$(kubectl get pods -l app=lab-web --sort-by=.metadata.creationTimestamp "
            "-o name | tail -n 1)\n"
            # and the old one gone (it takes a few seconds), so the drawing shows one pod
            "kubectl get pods -l app=lab-web -o name | grep -vx \"$POD\" "
            "| xargs -r kubectl wait --for=delete --timeout=60s > /dev/null 2>&1\n"
            "kubectl exec $POD -c lab-web -- curl -s -o /dev/null -w '%{http_code}\\n' "
            "http://localhost:8080/index.nginx-debian.html\n"
        ),
        setup=CLUSTER,
    ),
]

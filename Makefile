# `make test`: install labkit with its test tools in .venv, start the lab, run every test
# (unit tests, live-lab tests, the notebooks under strict nbval).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: test test-k8s lab lab-go-image lint bench clean

# The unit tests first, with Docker unreachable: they are pure (recorded snapshots only), and
# this proves it; then the lab and everything that uses it.
test: $(VENV)/.installed
	DOCKER_HOST=unix:///nonexistent $(BIN)/python -m pytest -q tests/unit
	$(MAKE) lab lab-go-image
	$(BIN)/python -m pytest --ignore=tests/unit

# The Kubernetes lab (k8s/Dockerfile, about 10 min to build the first time): its tests run only
# when selected, so `make test` does not pay for them; CI runs both.
test-k8s: $(VENV)/.installed
	docker image inspect labkit-k8s:latest >/dev/null 2>&1 \
	  || docker build -q -t labkit-k8s:latest k8s/ >/dev/null
	$(BIN)/python -m pytest -q -m k8s tests/lab/test_k8s_lab.py tests/lab/test_k8s_picture.py

lab: $(VENV)/.installed
	$(BIN)/labkit up

# The Go lab's image, FROM the lab's: lesson 9's tests start a throw-away lab from it. Quick
# once built (Docker's cache); the first build downloads Debian's Go (30 to 40 s).
lab-go-image:
	docker build -q -f lab/Dockerfile.go -t labkit-lab-go:latest . >/dev/null

lint: $(VENV)/.installed
	$(BIN)/ruff check labkit tests benchmarks

bench: $(VENV)/.installed lab
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

$(VENV)/.installed: pyproject.toml jupyter/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r jupyter/requirements.txt -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache

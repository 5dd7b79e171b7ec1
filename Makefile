# Everything a fresh clone needs: `make run` and `make test` create the
# environment on first use (Python >= 3.11 and make are the only prerequisites).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SCENARIO ?= scenarios/hengelo-2025.yaml

.PHONY: setup run smoke test test-slow clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/energy-sim run $(SCENARIO)

smoke: $(STAMP)
	$(VENV)/bin/energy-sim run scenarios/smoke.yaml

# The report test opens the HTML report in headless Chromium (Debian package).
# Installed when missing (CI runs as root on a clean machine); if that is not
# possible the test fails and says so.
CHROMIUM ?= /usr/bin/chromium
.PHONY: chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Chromium not found at $(CHROMIUM); installing the Debian package (needs root) ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	    || echo "Could not install Chromium; the HTML report test will fail. Install it with: apt-get install -y chromium"; \
	}

test: $(STAMP) chromium
	$(PY) -m pytest -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

clean:
	rm -rf $(VENV) results .pytest_cache .benchmarks

# Benchmarks and the performance gate (benchmarks/README.md); never part of `make test`.
# BENCH_ARGS is passed on to pytest, e.g. BENCH_ARGS="-k household".
BENCH_ARGS ?=
.PHONY: bench bench-check bench-baseline bench-scaling

bench: $(STAMP)
	$(PY) benchmarks/bench.py table -- $(BENCH_ARGS)

bench-check: $(STAMP)
	$(PY) benchmarks/bench.py check -- $(BENCH_ARGS)

bench-baseline: $(STAMP)
	$(PY) benchmarks/bench.py baseline --runs 3 -- $(BENCH_ARGS)

bench-scaling: $(STAMP)
	$(PY) benchmarks/scaling.py --write-readme

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

test: $(STAMP)
	$(PY) -m pytest -m "not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

clean:
	rm -rf $(VENV) results .pytest_cache .benchmarks

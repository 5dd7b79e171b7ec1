"""pytest configuration of the benchmark suites (see benchmarks/README.md).

Benchmarks are never collected by ``make test`` (pyproject's ``testpaths`` is
``tests``); run them with ``make bench`` / ``make bench-check``.
"""

from __future__ import annotations

import os

# One thread everywhere: the gate compares CPU time, and on a shared CI
# machine extra BLAS/numba threads only add noise. Must happen before numpy
# is imported by anything (conftest is imported before the test modules).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from harness import calibration_sample  # noqa: E402

_SESSION_CALIBRATION: list[tuple[float, float]] = []
_TEST_CPU_S: dict[str, float] = {}


def pytest_addoption(parser):
    parser.addoption(
        "--bench-memory", action="store_true", default=False,
        help="One extra untimed call per case under tracemalloc (peak of numpy/Python allocations).",
    )
    parser.addoption(
        "--bench-slowdown", action="append", default=[], metavar="CASE:HOW",
        help="Deliberately slow a benchmark case down, to demonstrate that the gate fails: "
             "CASE:N calls the case N times per round, CASE:python swaps a numba kernel for its "
             "pure-Python loop (battery_dispatch only). Only benchmarks/demonstrate_gate.sh uses it.",
    )


def pytest_configure(config):
    harness.TRACE_MEMORY = config.getoption("--bench-memory")
    config.addinivalue_line("markers", "anchor: reference measurement (pandapower, power-grid-model); never gated")


@dataclass
class Slowdown:
    """The ``--bench-slowdown`` requests, by case name."""

    requests: dict[str, str] = field(default_factory=dict)

    def repeat(self, case: str) -> int:
        how = self.requests.get(case, "1")
        return int(how) if how.isdigit() else 1

    def python(self, case: str) -> bool:
        return self.requests.get(case) == "python"


@pytest.fixture(scope="session")
def slowdown(request) -> Slowdown:
    requests = {}
    for item in request.config.getoption("--bench-slowdown"):
        case, _, how = item.partition(":")
        if not how or not (how.isdigit() or how == "python"):
            raise pytest.UsageError(f"--bench-slowdown must be CASE:N or CASE:python (got {item!r})")
        requests[case] = how
    return Slowdown(requests)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    # A calibration sample before every benchmark and the CPU time of the
    # test call, for suites that do not use harness.measure: the gate
    # normalises their cases by these (whole call: warm-up and all rounds).
    _SESSION_CALIBRATION.append(calibration_sample())
    c0 = time.process_time()
    yield
    _TEST_CPU_S[item.nodeid] = time.process_time() - c0


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["energy_sim_calibration"] = {
        "cpu_s": [c for c, _ in _SESSION_CALIBRATION],
        "wall_s": [w for _, w in _SESSION_CALIBRATION],
        "threads": os.environ.get("OMP_NUM_THREADS", ""),
        "test_cpu_s": dict(_TEST_CPU_S),
    }

"""Measurement helpers shared by the benchmark suites (see benchmarks/README.md).

Every case is measured with :func:`measure`, which drives pytest-benchmark's
``pedantic`` mode and, per round,

* runs the **calibration kernel** just before the case (untimed by
  pytest-benchmark, timed by us), so that machine speed is sampled
  interleaved with the case, in the same process, under the same load;
* times the case with both the wall clock (``time.perf_counter``) and the
  process CPU clock (``time.process_time``); the gate uses CPU time, which a
  busy neighbour on a shared machine inflates far less than wall time;
* records the **peak resident-set growth** of the round: Linux's ``VmHWM``
  is reset through ``/proc/self/clear_refs`` before the round and read after
  it, minus ``VmRSS`` before it. This counts every allocator (numpy, numba,
  power-grid-model's C++, BLAS) but under-counts memory that glibc reuses
  from earlier frees (arrays below its mmap threshold, up to 32 MiB);
* with ``--bench-memory`` (``make bench``), makes one extra untimed call
  under ``tracemalloc`` and records its peak: exact for numpy arrays and
  Python objects, blind to numba's and C++ allocations. The table shows both.

All figures go into ``benchmark.extra_info`` and from there into the JSON
file that ``benchmarks/bench.py`` turns into the table and the gate verdict.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")

#: Repeats of the calibration kernel per sample; the sample is their minimum.
CALIBRATION_REPEATS = 3

#: Set by conftest from ``--bench-memory``: one extra, untimed call per case
#: under ``tracemalloc`` (``make bench`` sets it, the gate does not).
TRACE_MEMORY = False


# --------------------------------------------------------------------------- calibration


def calibration_kernel() -> float:
    """A fixed numpy + pure-Python workload (~30 ms); returns a checksum.

    It mixes what the benchmarked code does: vector arithmetic and
    transcendental functions over large arrays (memory bandwidth), a sort,
    a small dense matrix product (BLAS, one thread) and an interpreted loop
    (the Python overhead around numpy calls).
    """
    rng = np.random.default_rng(20250106)
    a = rng.random(400_000)
    b = np.sort(a)
    c = np.exp(-a) * np.sqrt(b) + np.cos(a)
    m = rng.random((160, 160))
    d = m @ m
    s = 0
    for i in range(60_000):
        s += (i * i) % 7
    return float(c.sum() + d.trace() + s)


def calibration_sample() -> tuple[float, float]:
    """(CPU s, wall s) of the calibration kernel, each the minimum of a few repeats."""
    cpu, wall = [], []
    for _ in range(CALIBRATION_REPEATS):
        w0, c0 = time.perf_counter(), time.process_time()
        calibration_kernel()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall)


# --------------------------------------------------------------------------- memory


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> int | None:
    """Reset the peak-RSS mark (Linux >= 4.0); return the current RSS [KiB] or None."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return None
    return _status_kib("VmRSS")


def peak_rss_kib() -> int | None:
    """Peak RSS since the last reset [KiB] or None."""
    return _status_kib("VmHWM")


# --------------------------------------------------------------------------- measurement


def measure(
    benchmark,
    fn: Callable[[], Any],
    *,
    steps: int,
    stage: str,
    rounds: int = 3,
    warmup_rounds: int = 1,
    label: str = "",
    grid: str = "",
    anchor: str = "",
    extrapolate_to_steps: int | None = None,
    repeat: int = 1,
    number: int = 1,
) -> Any:
    """Benchmark ``fn()`` and record everything the table and the gate need.

    Parameters
    ----------
    benchmark : pytest_benchmark fixture
    fn : callable
        The case; called with no arguments, its result is returned.
    steps : int
        Time steps one call simulates [-] (for steps/s).
    stage : str
        Pipeline stage, e.g. ``"profiles"``, ``"grid"``, ``"engine"``.
    rounds, warmup_rounds : int
        Timed rounds and untimed warm-up rounds (numba compilation, caches).
    label : str
        Shown next to the case name, e.g. ``"slice: 4 weeks"``.
    grid : str
        For load-flow cases and anchors: the grid name, pairing a case with
        its anchors in the table.
    anchor : str
        ``"pgm"`` or ``"run_timeseries"`` for anchor measurements (never gated).
    extrapolate_to_steps : int, optional
        For slices: the full-size step count the table extrapolates to.
    repeat : int
        Extra calls of ``fn`` per round *counted as one*: only the
        demonstration of the gate sets it above one (``--bench-slowdown``),
        to make a case deliberately slower.
    number : int
        Calls of ``fn`` per round for very short cases (a few ms); the
        recorded times are per call.
    """
    cpu_s: list[float] = []
    wall_s: list[float] = []
    calib_cpu_s: list[float] = []
    calib_wall_s: list[float] = []
    peak_kib: list[int] = []
    rss0: list[int | None] = [None]
    timed = [False]

    def setup():
        c, w = calibration_sample()
        if timed[0]:
            calib_cpu_s.append(c)
            calib_wall_s.append(w)
        rss0[0] = reset_peak_rss()

    def run():
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeat * number):
            result = fn()
        c1, w1 = time.process_time(), time.perf_counter()
        if timed[0]:
            cpu_s.append((c1 - c0) / number)
            wall_s.append((w1 - w0) / number)
        return result

    def teardown(*_args, **_kwargs):
        hwm = peak_rss_kib()
        if timed[0] and hwm is not None and rss0[0] is not None:
            peak_kib.append(max(hwm - rss0[0], 0))
        timed[0] = True  # the first call is the warm-up when warmup_rounds == 1

    if warmup_rounds == 0:
        timed[0] = True
    elif warmup_rounds > 1:
        raise ValueError("measure supports warmup_rounds in {0, 1}")
    result = benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=rounds,
                                warmup_rounds=warmup_rounds, iterations=1)
    traced_mib = None
    if TRACE_MEMORY:
        del result
        tracemalloc.start()
        try:
            result = fn()
            traced_mib = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    benchmark.extra_info.update(
        stage=stage,
        steps=int(steps),
        label=label,
        grid=grid,
        anchor=anchor,
        extrapolate_to_steps=extrapolate_to_steps,
        cpu_s=cpu_s,
        wall_s=wall_s,
        calibration_cpu_s=calib_cpu_s,
        calibration_wall_s=calib_wall_s,
        peak_rss_growth_mib=(max(peak_kib) / 1024.0) if peak_kib else None,
        peak_traced_mib=traced_mib,
        repeat=repeat,
        number=number,
        threads=os.environ.get("OMP_NUM_THREADS", ""),
    )
    return result


def pandapower_run_timeseries(net, profiles: dict[tuple[str, str], np.ndarray], n_step: int) -> dict[str, Any]:
    """The anchor: pandapower's own ``run_timeseries`` on a copy of `net` for the first `n_step` steps.

    `profiles` maps ``(element, column)`` (e.g. ``("load", "p_mw")``) to an
    ``[n_step_or_more, n_element]`` array in the order of ``net[element].index``;
    each drives one ``ConstControl``. Bus voltages, line and transformer
    loadings are logged, as our solvers compute them. Returns the output
    writer's results (``"res_bus.vm_pu"`` ...).
    """
    import copy

    import pandas as pd
    import pandapower.control as control
    import pandapower.timeseries as ts

    net = copy.deepcopy(net)
    for (element, column), values in profiles.items():
        values = np.asarray(values)
        if values.shape[1] == 0:
            continue
        data = ts.DFData(pd.DataFrame(values[:n_step], columns=net[element].index))
        control.ConstControl(net, element=element, variable=column, element_index=net[element].index,
                             data_source=data, profile_name=net[element].index)
    writer = ts.OutputWriter(net, time_steps=range(n_step), output_path=None, log_variables=[])
    for table, variable in (("res_bus", "vm_pu"), ("res_line", "loading_percent"), ("res_trafo", "loading_percent")):
        writer.log_variable(table, variable)
    ts.run_timeseries(net, time_steps=range(n_step), verbose=False)
    return writer.output

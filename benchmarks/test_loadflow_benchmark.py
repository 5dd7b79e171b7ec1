"""One year of 1-LV-urban6--0-sw: batched load flow vs pandapower run_timeseries vs power-grid-model.

Run with::

    .venv/bin/python -m pytest benchmarks/test_loadflow_benchmark.py --benchmark-only -p no:cacheprovider -s

All 35,136 quarter-hours of SimBench's 2016 profiles are solved by our
batched solver and by power-grid-model (batch Newton-Raphson, threading=-1,
i.e. single-threaded). pandapower's ``run_timeseries`` is run on a slice of
``N_SLICE_TIMESERIES`` steps and *extrapolated* linearly to the year.
Targets (task brief): >= 100x faster than run_timeseries, no slower than PGM.
"""

import numpy as np
import pytest
import simbench
from harness import pandapower_run_timeseries

from energy_sim.grid.loadflow import BatchedLoadFlow
from energy_sim.grid.pgm_backend import PgmLoadFlow

CODE = "1-LV-urban6--0-sw"
N_SLICE_TIMESERIES = 200
_SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def grid():
    net = simbench.get_simbench_net(CODE)
    prof = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    return net, prof


def _year(prof):
    return (prof[("load", "p_mw")].to_numpy(), prof[("load", "q_mvar")].to_numpy(),
            prof[("sgen", "p_mw")].to_numpy())


def test_batched_loadflow_year(benchmark, grid):
    net, prof = grid
    args = _year(prof)
    lf = BatchedLoadFlow(net)  # topology build is not part of the per-year cost
    result = benchmark.pedantic(lf.solve, args=args, rounds=3, iterations=1, warmup_rounds=1)
    assert result.converged.all()
    _SECONDS["batched"] = benchmark.stats.stats.min
    benchmark.extra_info["n_step"] = int(args[0].shape[0])
    benchmark.extra_info["max_iterations"] = int(result.iterations.max())


def test_power_grid_model_year(benchmark, grid):
    net, prof = grid
    args = _year(prof)
    model = PgmLoadFlow(net)
    result = benchmark.pedantic(model.solve, args=args, kwargs={"threading": -1},
                                rounds=3, iterations=1, warmup_rounds=1)
    assert np.isfinite(result.vm_pu).all()
    _SECONDS["pgm"] = benchmark.stats.stats.min


def test_pandapower_run_timeseries_slice_extrapolated(benchmark, grid):
    net, prof = grid
    n_year = prof[("load", "p_mw")].shape[0]

    def run():
        # SimBench profiles of loads and generators; storage and other columns are not driven
        driven = {(element, column): df.to_numpy() for (element, column), df in prof.items()
                  if element in ("load", "sgen") and column in ("p_mw", "q_mvar")}
        return pandapower_run_timeseries(net, driven, N_SLICE_TIMESERIES)

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    t_slice = benchmark.stats.stats.min
    _SECONDS["run_timeseries_year_extrapolated"] = t_slice * n_year / N_SLICE_TIMESERIES
    benchmark.extra_info["steps_measured"] = N_SLICE_TIMESERIES
    benchmark.extra_info["extrapolated_year_s"] = _SECONDS["run_timeseries_year_extrapolated"]

    # Report and check the targets, all from this same run.
    t_ours, t_pgm = _SECONDS["batched"], _SECONDS["pgm"]
    t_ts = _SECONDS["run_timeseries_year_extrapolated"]
    print(f"\none year of {CODE} ({n_year} steps):"
          f"\n  batched load flow             {t_ours:8.2f} s"
          f"\n  power-grid-model NR (1 thread) {t_pgm:8.2f} s"
          f"\n  run_timeseries (extrapolated from {N_SLICE_TIMESERIES} steps) {t_ts:8.1f} s"
          f"\n  speed-up vs run_timeseries: {t_ts / t_ours:7.0f}x (target >= 100x)"
          f"\n  speed-up vs power-grid-model: {t_pgm / t_ours:7.2f}x (target >= 1x)")
    assert t_ts / t_ours >= 100
    assert t_pgm / t_ours >= 1

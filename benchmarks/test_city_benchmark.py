"""The whole generated Hengelo grid: load flow + metrics for a slice of days, EXTRAPOLATED to a year.

Run with::

    .venv/bin/python -m pytest benchmarks/test_city_benchmark.py --benchmark-only -p no:cacheprovider -s

Grid: all ten wijken of ``scenarios/hengelo-2025.yaml`` built as the engine
builds them (210 LV grids, ~74,000 LV buses, 36,685 homes, the 10 kV network).
Injections: E1A-like household load per home (``household_load_kw``, the
engine's profile kernel, float32 as in runs), cos(phi) 0.97, rooftop PV on
30 % of homes from the synthetic Twente weather. Per day-block:
``CitySolver.solve_block`` (all LV grids, the MV net, voltage reductions) and
the loading accumulators the engine keeps (``LoadingAccumulator.add``).
Profile generation is NOT timed (another stage). ``N_DAYS`` days are timed
per round (``harness.measure``: CPU and wall time, calibration kernel
interleaved); the year figure is that time * 365 / ``N_DAYS`` and is labelled
"extrapolated". A second case times building the city grid and the solver
(once; ~10 s).

Threads: numba runs on one thread here (``conftest.py``, for the gate); for
the two-core figure run with ``NUMBA_NUM_THREADS=2 OMP_NUM_THREADS=2`` in the
environment (numba's OpenMP layer also obeys ``OMP_NUM_THREADS``: with it at
1, ``prange`` loops run on one thread whatever ``NUMBA_NUM_THREADS`` says).
"""

from __future__ import annotations

import os
import resource
import time

import numba
import numpy as np
import pandas as pd
import pytest
from harness import measure

import energy_sim.engine as engine
from energy_sim.grid.build import WijkSpec, build_city_grid
from energy_sim.grid.metrics import LoadingAccumulator
from energy_sim.grid.simulate import CitySolver
from energy_sim.profiles.household import household_load_kw, household_traits
from energy_sim.profiles.solar import rooftop_pv_kw_per_kwp
from energy_sim.profiles.weather import synthetic_weather
from energy_sim.scenario import load_scenario

N_DAYS = 3
STEPS_PER_DAY = 96


def _build(sc):
    """The city grid as the engine builds it, and the CitySolver over it."""
    lv_conns, mv_conns = engine._grid_connections(sc)
    g = sc.grid
    city = build_city_grid(
        tuple(WijkSpec(w.code, w.name, w.dwellings, w.lon_deg, w.lat_deg) for w in sc.wijken),
        rng=np.random.default_rng([sc.seed, engine.STREAM_GRID]), lv_params=engine.lv_grid_parameters(g),
        lv_connections=tuple(lv_conns), mv_connections=tuple(mv_conns))
    home_ids, extra_ids = {}, {}
    for code, grids in city.lv_grids.items():
        conns = pd.concat([gr.connections for gr in grids], ignore_index=True)
        home_ids[code] = conns.connection_id[conns.kind == "household"].tolist()
        extra_ids[code] = conns.connection_id[(conns.element == "load") & (conns.kind != "household")].tolist()
    mv_ids = [c.connection_id for c in mv_conns if c.kind in ("solar_field", "wind_turbine")]
    solver = CitySolver(city, list(city.lv_grids), home_ids, extra_ids, mv_ids, tuple(g.voltage_band_pu))
    return solver, home_ids, extra_ids, mv_ids


@pytest.fixture(scope="module")
def hengelo():
    sc = load_scenario("scenarios/hengelo-2025.yaml")
    w0, c0 = time.perf_counter(), time.process_time()
    solver, home_ids, extra_ids, mv_ids = _build(sc)
    t_build = (time.perf_counter() - w0, time.process_time() - c0)

    time_utc = pd.date_range("2025-01-13", periods=N_DAYS * STEPS_PER_DAY, freq="15min", tz="UTC")
    weather = synthetic_weather(time_utc, seed=sc.seed)
    pv_per_kwp = rooftop_pv_kw_per_kwp(weather)
    blocks = []
    for d in range(N_DAYS):
        sl = slice(d * STEPS_PER_DAY, (d + 1) * STEPS_PER_DAY)
        t = time_utc[sl]
        p, q, pv, extra = {}, {}, {}, {}
        for k, code in enumerate(home_ids):
            n = len(home_ids[code])
            traits = household_traits(n, rng=np.random.default_rng([1, k]), common_seed=1)
            annual = np.full(n, 2720.0)
            p[code] = household_load_kw(t, annual, rng=np.random.default_rng([2, k, d]), traits=traits)
            q[code] = p[code] * np.tan(np.arccos(0.97))
            kwp = np.where(np.random.default_rng([3, k]).random(n) < 0.3, 3.5, 0.0)
            pv[code] = pv_per_kwp[sl, None] * kwp[None, :]
            extra[code] = np.zeros((len(t), len(extra_ids[code])))
        mv_p = np.zeros((len(t), len(mv_ids)))
        blocks.append((p, q, pv, extra, mv_p, t))
    return solver, blocks, t_build, sum(len(v) for v in home_ids.values())


def test_city_load_flow_and_metrics_extrapolated_to_a_year(benchmark, hengelo):
    solver, blocks, t_build, n_homes = hengelo
    trafo_acc = LoadingAccumulator(np.array(solver.lv_trafo_ids), solver.lv_trafo_sn_mva, 0.25)
    feeders = solver.feeder_table()
    line_acc = LoadingAccumulator(feeders.feeder.to_numpy(), feeders.s_rated_mva.to_numpy(), 0.25)

    def run():
        not_converged = 0
        for block in blocks:
            r = solver.solve_block(*block)
            trafo_acc.add(r.trafo_loading_pct, block[-1])
            line_acc.add(r.feeder_loading_pct, block[-1])
            not_converged += len(r.not_converged)
        return not_converged

    n_step = N_DAYS * STEPS_PER_DAY
    not_converged = measure(benchmark, run, steps=n_step, stage="grid", rounds=3,
                            label=f"Hengelo city, slice: {N_DAYS} days", extrapolate_to_steps=365 * STEPS_PER_DAY)
    info = benchmark.extra_info
    wall_s, cpu_s, cal_s = min(info["wall_s"]), min(info["cpu_s"]), min(info["calibration_cpu_s"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info.update({
        "n_days_timed": N_DAYS, "n_homes": n_homes, "n_lv_bus": int(solver.lv_bus_count.sum()),
        "numba_threads": numba.get_num_threads(), "omp_threads": os.environ.get("OMP_NUM_THREADS", ""),
        "year_extrapolated_s": wall_s * 365 / N_DAYS,
        "year_extrapolated_cpu_s": cpu_s * 365 / N_DAYS, "peak_rss_mb": peak_mb,
        "build_and_setup_wall_s": t_build[0], "build_and_setup_cpu_s": t_build[1],
    })
    print(f"\nHengelo city ({n_homes} homes, {int(solver.lv_bus_count.sum())} LV buses, {len(solver.plans)} LV grids), "
          f"{numba.get_num_threads()} numba thread(s) (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')}): "
          f"grids + solver built in {t_build[0]:.1f} s "
          f"({t_build[1]:.1f} s CPU); load flow + metrics per day {wall_s / N_DAYS:.3f} s wall, {cpu_s / N_DAYS:.3f} s CPU "
          f"(score {cpu_s / cal_s:.1f} calibration kernels); full year EXTRAPOLATED from {N_DAYS} days: "
          f"{wall_s * 365 / N_DAYS:.0f} s wall (+ build); peak RSS {peak_mb:.0f} MB")
    assert not_converged == 0


def test_city_grid_build(benchmark):
    """Building the 210 LV grids, the MV net and the CitySolver (merged model, factors, maps): once per run."""
    sc = load_scenario("scenarios/hengelo-2025.yaml")
    solver = measure(benchmark, lambda: _build(sc)[0], steps=0, stage="grid", rounds=1, warmup_rounds=0,
                     label="Hengelo city: build grids + CitySolver")
    info = benchmark.extra_info
    print(f"\nHengelo city grid build + CitySolver: {min(info['wall_s']):.1f} s wall, {min(info['cpu_s']):.1f} s CPU "
          f"({len(solver.plans)} LV grids, {int(solver.lv_bus_count.sum())} LV buses)")

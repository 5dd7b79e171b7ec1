"""Batched load flow (energy_sim.grid) and its two anchors, on the same grids and profiles.

Grids:

* ``simbench-lv-urban6``: SimBench ``1-LV-urban6--0-sw`` with its own 2016
  profiles, a full year (35,136 quarter-hours).
* ``hengelo-lv-175``: one generated Hengelo LV grid (``build_lv_grid``, 175
  homes, 352 buses), household load + rooftop PV from the profile kernels;
  a 4-week slice (2,688 steps), labelled as such.

Anchors (marked ``anchor``, shown in the table, never gated):

* power-grid-model batch Newton-Raphson (``PgmLoadFlow``, single thread):
  the SimBench year in full, the Hengelo grid on the same 4-week slice;
* pandapower ``run_timeseries`` on the first 96 steps, extrapolated to the
  case's steps by steps/s (labelled "extrapolated").

The ratio columns of the table compare steps/s of our case with each anchor
on the same grid.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from harness import measure, pandapower_run_timeseries
from energy_sim.grid.build import build_lv_grid
from energy_sim.grid.loadflow import BatchedLoadFlow
from energy_sim.grid.pgm_backend import PgmLoadFlow
from energy_sim.profiles.household import household_load_kw, household_traits
from energy_sim.profiles.solar import rooftop_pv_kw_per_kwp
from energy_sim.profiles.weather import synthetic_weather

SIMBENCH_CODE = "1-LV-urban6--0-sw"
SEED = 20250106
N_HOMES = 175
SLICE_STEPS = 28 * 96
TIMESERIES_STEPS = 96
YEAR_STEPS = 35_136


@pytest.fixture(scope="module")
def simbench_case():
    simbench = pytest.importorskip("simbench")
    net = simbench.get_simbench_net(SIMBENCH_CODE)
    prof = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    load_p = prof[("load", "p_mw")].to_numpy()
    load_q = prof[("load", "q_mvar")].to_numpy()
    sgen_p = prof[("sgen", "p_mw")].to_numpy()
    return net, (load_p, load_q, sgen_p)


@pytest.fixture(scope="module")
def hengelo_case():
    grid = build_lv_grid(N_HOMES, rng=np.random.default_rng([SEED, 1]), name="bench/MSR01")
    t = pd.date_range("2025-01-06", periods=SLICE_STEPS, freq="15min", tz="UTC")
    annual = np.random.default_rng([SEED, 5]).lognormal(np.log(2900.0), 0.35, N_HOMES)
    traits = household_traits(N_HOMES, rng=np.random.default_rng([SEED, 3]), common_seed=SEED)
    load_kw = household_load_kw(t, annual, rng=np.random.default_rng([SEED, 4]), traits=traits).astype(float)
    pv_kw = rooftop_pv_kw_per_kwp(synthetic_weather(t, seed=SEED))[:, None] * np.where(
        np.arange(N_HOMES) % 3 == 0, 4.0, 0.0)[None, :]
    # columns follow net.load / net.sgen order: one load and one sgen per home, in home order
    load_p = load_kw / 1e3
    return grid.net, (load_p, load_p * 0.25, pv_kw / 1e3)


def _run_timeseries(net, load_p, load_q, sgen_p):
    n_step = load_p.shape[0]
    return pandapower_run_timeseries(
        net, {("load", "p_mw"): load_p, ("load", "q_mvar"): load_q, ("sgen", "p_mw"): sgen_p}, n_step)["res_bus.vm_pu"]


# ----------------------------------------------------------------------------- SimBench LV, a year


def test_batched_loadflow_simbench_year(benchmark, simbench_case):
    net, profiles = simbench_case
    lf = BatchedLoadFlow(net)  # one factorisation per topology; not part of the per-year cost
    r = measure(benchmark, lambda: lf.solve(*profiles), steps=profiles[0].shape[0], stage="grid",
                grid="simbench-lv-urban6", label=f"{SIMBENCH_CODE}, {len(net.bus)} buses")
    assert r.converged.all()


@pytest.mark.anchor
def test_anchor_pgm_simbench_year(benchmark, simbench_case):
    net, profiles = simbench_case
    model = PgmLoadFlow(net)
    r = measure(benchmark, lambda: model.solve(*profiles, threading=-1), steps=profiles[0].shape[0],
                stage="grid", grid="simbench-lv-urban6", anchor="pgm", rounds=2,
                label="power-grid-model NR, 1 thread")
    assert np.isfinite(r.vm_pu).all()


@pytest.mark.anchor
def test_anchor_run_timeseries_simbench(benchmark, simbench_case):
    net, profiles = simbench_case
    part = tuple(p[:TIMESERIES_STEPS] for p in profiles)
    vm = measure(benchmark, lambda: _run_timeseries(net, *part), steps=TIMESERIES_STEPS, stage="grid",
                 grid="simbench-lv-urban6", anchor="run_timeseries", rounds=1, warmup_rounds=0,
                 extrapolate_to_steps=profiles[0].shape[0],
                 label=f"pandapower run_timeseries, {TIMESERIES_STEPS} steps, extrapolated")
    assert len(vm) == TIMESERIES_STEPS


# ----------------------------------------------------------------------------- generated Hengelo LV grid


def test_batched_loadflow_hengelo_lv(benchmark, hengelo_case):
    net, profiles = hengelo_case
    lf = BatchedLoadFlow(net)
    r = measure(benchmark, lambda: lf.solve(*profiles), steps=SLICE_STEPS, stage="grid", grid="hengelo-lv-175",
                label=f"slice: 4 weeks, build_lv_grid({N_HOMES}), {len(net.bus)} buses",
                extrapolate_to_steps=YEAR_STEPS)
    assert r.converged.all()


def test_build_lv_grid(benchmark):
    # topology construction: per substation, once per run (~210 in Hengelo)
    g = measure(benchmark, lambda: BatchedLoadFlow(
        build_lv_grid(N_HOMES, rng=np.random.default_rng([SEED, 1]), name="bench/MSR01").net),
        steps=0, stage="grid", label=f"build_lv_grid({N_HOMES}) + BatchedLoadFlow factorisation")
    assert g is not None


@pytest.mark.anchor
def test_anchor_pgm_hengelo_lv(benchmark, hengelo_case):
    net, profiles = hengelo_case
    model = PgmLoadFlow(net)
    r = measure(benchmark, lambda: model.solve(*profiles, threading=-1), steps=SLICE_STEPS, stage="grid",
                grid="hengelo-lv-175", anchor="pgm", rounds=2, extrapolate_to_steps=YEAR_STEPS,
                label="slice: 4 weeks, power-grid-model NR, 1 thread")
    assert np.isfinite(r.vm_pu).all()


@pytest.mark.anchor
def test_anchor_run_timeseries_hengelo_lv(benchmark, hengelo_case):
    net, profiles = hengelo_case
    part = tuple(p[:TIMESERIES_STEPS] for p in profiles)
    vm = measure(benchmark, lambda: _run_timeseries(net, *part), steps=TIMESERIES_STEPS, stage="grid",
                 grid="hengelo-lv-175", anchor="run_timeseries", rounds=1, warmup_rounds=0,
                 extrapolate_to_steps=YEAR_STEPS,
                 label=f"pandapower run_timeseries, {TIMESERIES_STEPS} steps, extrapolated")
    assert len(vm) == TIMESERIES_STEPS

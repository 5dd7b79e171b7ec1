"""Profiles of a whole city-year, block by block as the engine computes them, and each kernel on its own.

Run with::

    .venv/bin/python -m pytest benchmarks/test_profiles_city_benchmark.py --benchmark-only -p no:cacheprovider -s

The city (issue 4): 40,000 homes in 10 wijken of 4,000 with their household
load and rooftop PV (40 % of homes, 3.5 kWp), 4,000 heat pumps (10 %), two
solar fields, three wind turbines, one heat network (DEC-like, 950
dwellings), 400 home batteries and 10 neighbourhood batteries; 35,040
quarter-hours in 365 one-day blocks. Each block is reduced (energy per
category, city peak) and dropped, as the engine streams its results, so
memory does not grow with the horizon. The homes are computed as the engine
computes them (``energy_sim.profiles.homes.CityHomesBlock``: one household
call for all wijken per block, which also sums each wijk's load per step,
then the heat pumps of all wijken in one call per type, and the other
per-step totals; a home's active power, reactive power and rooftop PV
are not written per home, the load flow reads them from the household
load, the heat pumps and the PV per kWp). Wall and CPU time, the household
share of the CPU time (the ``HouseholdConnections.load_kw`` call, timed around
it) and peak memory are printed (``-s``) and stored in ``extra_info``: peak
traced memory covers the numpy allocations (``tracemalloc``, in an untimed
week: tracing slows the Python-side parts), peak RSS the whole process.

``benchmarks/conftest.py`` pins numba (and BLAS) to one thread for the CPU
gate, so ``test_city_year_all_assets`` is single-threaded.
``test_city_year_all_assets_2_threads`` runs the same city-year as a run
on the 2-core machine does, with numba's two threads (the engine leaves
numba at its default, one thread per core): in a child process started
with ``NUMBA_NUM_THREADS=2`` (BLAS stays at one thread), which prepares
everything and then computes the year when told to, so the timed round is
the year alone. Both print and store the CPU and wall time of each part
(``breakdown`` in ``extra_info``): homes (of which household), the
per-site series (rooftop PV per kWp, solar fields, wind; once per year),
heat network, batteries and the per-block bookkeeping.

Run the child alone (prints one JSON line) with::

    NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/test_profiles_city_benchmark.py

Numba kernels are compiled (or loaded from the cache) in a warm-up call
before timing. Timings on a shared machine vary: compare medians.

Measured 2026-11-22 (seventh session) with two numba threads, alternating
with the tree at the start of the session (3a2755b), on the shared 2-core
machine:

====================  ===============================  ===============================
                      start of session (3a2755b)       now
====================  ===============================  ===============================
wall, median (range)  6.1 s (5.3-8.5), 14 rounds       5.85 s (5.0-6.9), 13 rounds
CPU, median           8.9 s                            8.6 s
household kernel      3.9-4.6 s wall, 6.7-7.3 s CPU    the same (unchanged)
rest of the homes     0.8-1.3 s wall                   0.7-0.9 s wall
peak RSS              312 MB                           312 MB
====================  ===============================  ===============================

Rounds a minute apart differ by up to 1-2 s (other jobs on the host); the
CPU time is the steadier figure: 3 % less than at the start of the session.

What changed: the household and DHW calendars take the local clock from a
per-year table of UTC offsets (``energy_sim.profiles.local_time``) rather
than a pandas ``tz_convert`` and ``date_range`` per block; the heat-pump
kernel skips its division on steps where every heat pump meets its demand;
per-run constants (heat-pump positions, PV kWp total) are kept. Bookkeeping
~0.45 s, batteries ~0.3 s, heat network ~0.2 s. Peak traced numpy memory
29 MB. Earlier sessions: 10.1 s (fourth), 6.3 s (fifth), 5.8-6.2 s (sixth).

The household kernel is ~17 ms per one-day block of 40,000 homes on one
thread (10-11 ms on two: 1.7x): events ~6 ms (~15 ns per event), base pass
and transpose into the output's rows ~7 ms, per-connection set-up and
day factors ~4 ms. Tried and not faster on this machine (within its
+-15 % noise), so not kept: tiles of 16, 32, 128 or 256 connections
instead of 64; a float32 tile buffer; a step-major tile buffer (strided
base pass, contiguous copy out: 22-24 against 17-18 ms); the output rows
written four steps at a time with the sums fused in; dynamic scheduling of
the tiles (``numba.set_parallel_chunksize`` 4 or 16: 12-18 against
10.5 ms); smaller noise and event pools (fit in L2: no change); OpenMP
spinning (``OMP_WAIT_POLICY=ACTIVE``, with or without ``GOMP_SPINCOUNT``:
no gain in wall time, up to 30 % more CPU). Earlier sessions tried, also
without gain: a step-major base pass reading a 2-D noise pool; a blocked
transpose; each connection's column written directly (10-11 ns per
value); chunks of 48 steps; int64 first-step tables; other ways of
placing the events.
"""

import contextlib
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest

import energy_sim

from energy_sim.profiles.heat import (
    HeatPumpHomes,
    dhw_heat_kw,
    heat_pump_electric_kw,
    heat_pump_group_electric_kw,
    load_building_archetype,
    space_heat_kw,
)
from energy_sim.profiles.heat_network import heat_network_dispatch, hengelo_dec_network
from energy_sim.profiles.homes import CityHomesBlock, HeatPumpGroup, WijkHomes
from energy_sim.profiles.household import (
    HouseholdConnections,
    HouseholdGroup,
    household_groups_load_kw,
    household_load_kw,
    household_traits,
)
from energy_sim.profiles.solar import BOELDERSHOEK_WEST, SolarField, rooftop_pv_kw_per_kwp, solar_field_ac_kw
from energy_sim.profiles.storage import DispatchRule, battery_dispatch, home_batteries, neighbourhood_batteries
from energy_sim.profiles.weather import synthetic_weather
from energy_sim.profiles.wind import air_density_kg_m3, hub_height_wind_m_s, load_turbine_catalogue, wind_turbine_power_kw

SEED = 2025
N_WIJK = 10
HOMES_PER_WIJK = 4_000
BLOCK = 96
YEAR = pd.date_range("2025-01-01", periods=35_040, freq="15min", tz="UTC")
STREAM_HOUSEHOLD_TRAITS, STREAM_HOUSEHOLD_NOISE = 3, 4  # as energy_sim.profiles.homes
CATEGORIES = ("household", "heat_pump", "rooftop_pv", "solar_field", "wind", "heat_network", "battery")


@dataclasses.dataclass
class Wijk:
    annual_kwh: np.ndarray
    traits: object
    pv_kwp: np.ndarray
    hp_columns: np.ndarray
    hp_h_w_k: np.ndarray
    battery_columns: np.ndarray


@pytest.fixture(scope="module")
def weather():
    return synthetic_weather(YEAR, seed=SEED)


def _city_fixture():
    archetype = load_building_archetype("average_dwelling")
    wijken = []
    for k in range(N_WIJK):
        rng = np.random.default_rng([SEED, 99, k])
        n = HOMES_PER_WIJK
        annual = 2_700.0 * rng.lognormal(-0.5 * 0.35**2, 0.35, n)
        order = rng.permutation(n)
        pv_kwp = np.zeros(n)
        pv_kwp[order[: int(0.4 * n)]] = 3.5
        hp_cols = np.sort(order[int(0.4 * n): int(0.5 * n)])
        bat_cols = np.sort(order[: int(0.01 * n)])  # homes with PV and a home battery
        traits = household_traits(n, rng=np.random.default_rng([SEED, STREAM_HOUSEHOLD_TRAITS, k]), common_seed=SEED)
        h_w_k = archetype.h_w_k * rng.lognormal(-0.5 * 0.25**2, 0.25, hp_cols.size)
        wijken.append(Wijk(annual, traits, pv_kwp, hp_cols, h_w_k, bat_cols))
    return archetype, wijken


@pytest.fixture(scope="module")
def city():
    return _city_fixture()


class _Sections:
    """CPU time (all threads of the process) and wall time per named part of a run [s]; parts may nest
    (``homes`` contains ``household``)."""

    def __init__(self):
        self.cpu_s: dict[str, float] = {}
        self.wall_s: dict[str, float] = {}
        self._names: list[str] = []
        self._open: list[tuple[str, float, float]] = []

    def __call__(self, name):
        self._names.append(name)
        return self

    def __enter__(self):
        self._open.append((self._names.pop(), time.perf_counter(), time.process_time()))

    def __exit__(self, *exc):
        name, t0, c0 = self._open.pop()
        self.cpu_s[name] = self.cpu_s.get(name, 0.0) + time.process_time() - c0
        self.wall_s[name] = self.wall_s.get(name, 0.0) + time.perf_counter() - t0

    def table(self) -> dict[str, dict[str, float]]:
        return {k: {"cpu_s": self.cpu_s[k], "wall_s": self.wall_s[k]} for k in self.cpu_s}


def _traced_peak_mb(fn):
    """Peak of the numpy and Python allocations of ``fn()`` [MB] (``tracemalloc``)."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def _wijk_homes(archetype, wijken) -> list[WijkHomes]:
    """The wijken's homes as the engine holds them (energy_sim.profiles.homes), codes ``W0`` ... ``W9``."""
    return [WijkHomes(f"W{k}", [""] * HOMES_PER_WIJK, w.annual_kwh, w.pv_kwp, w.traits,
                      [HeatPumpGroup(w.hp_columns, HeatPumpHomes.of(w.hp_h_w_k, archetype.t_base_degc,
                                                                    archetype.dhw_kwh_per_year, "air_source_8kw"))])
            for k, w in enumerate(wijken)]


@contextlib.contextmanager
def _timed_household_kernel(part):
    """Time every ``HouseholdConnections.load_kw`` call (the homes' household load) as the part ``household``."""
    kernel = HouseholdConnections.load_kw

    def timed(*args, **kwargs):
        with part("household"):
            return kernel(*args, **kwargs)

    HouseholdConnections.load_kw = timed
    try:
        yield
    finally:
        HouseholdConnections.load_kw = kernel


def _city_year(weather, city, n_block=None):
    """All asset kinds for the horizon, block by block.

    Returns energy per category [MWh], the city peak [MW] and the CPU and
    wall time of each part (:class:`_Sections`).
    """
    archetype, wijken = city
    n_block = n_block or len(YEAR) // BLOCK
    dt_h = 0.25
    part = _Sections()
    # whole-horizon, per-site series (the engine computes these once, _mv_generation_mw)
    with part("site_series"):
        pv_per_kwp = rooftop_pv_kw_per_kwp(weather)
        fields_kw = solar_field_ac_kw(weather, BOELDERSHOEK_WEST) + solar_field_ac_kw(
            weather, SolarField("Boeldershoek", 24_000.0))
        turbine = load_turbine_catalogue()["E-141/4200"]
        wind_kw = 3 * wind_turbine_power_kw(
            hub_height_wind_m_s(weather.wind_speed_10m_m_s, 135.0), turbine,
            air_density_kg_m3=air_density_kg_m3(weather.t_amb_degc, weather.pressure_pa, 135.0))
        network = hengelo_dec_network(950)
        home_fleet = home_batteries(sum(w.battery_columns.size for w in wijken))
        trafo_fleet = neighbourhood_batteries(N_WIJK)
    soc_net, soc_home, soc_trafo = None, None, None
    e_mwh = dict.fromkeys(CATEGORIES, 0.0)
    peak_mw = 0.0
    city_homes = CityHomesBlock(_wijk_homes(archetype, wijken), BLOCK)
    for b in range(n_block):
        i0, i1 = b * BLOCK, (b + 1) * BLOCK
        t = YEAR[i0:i1]
        t_amb = weather.t_amb_degc[i0:i1]
        city_kw = np.zeros(BLOCK)
        cat_kw = {name: np.zeros(BLOCK) for name in CATEGORIES}  # float64 totals of the wijken
        home_net = []
        wijk_net = np.zeros((BLOCK, N_WIJK))
        # the engine's profiles stage: every wijk's household load in one call, then per wijk the heat
        # pumps and the per-step totals (CityHomesBlock.fill; reactive power and rooftop PV per home
        # are not written, the load flow reads them as multiples); the household kernel's share is
        # timed inside it (_timed_household_kernel)
        with part("homes"), _timed_household_kernel(part):
            rngs = [np.random.default_rng([SEED, STREAM_HOUSEHOLD_NOISE, k, b]) for k in range(N_WIJK)]
            blocks = city_homes.fill(t, t_amb, pv_per_kwp[i0:i1], rngs)
        with part("bookkeeping"):
            for k, w in enumerate(wijken):
                block = blocks[f"W{k}"]
                cat_kw["household"] += block.household_total_kw
                cat_kw["heat_pump"] += block.heat_pump_total_kw
                cat_kw["rooftop_pv"] -= block.pv_total_kw
                wijk_net[:, k] = block.household_total_kw + block.heat_pump_total_kw - block.pv_total_kw
                home_net.append(block.p_kw(w.battery_columns)
                                - pv_per_kwp[i0:i1, None] * w.pv_kwp[w.battery_columns])
        # heat network: space heat + DHW of its dwellings, buffer state carried between blocks
        with part("heat_network"):
            q_net = (space_heat_kw(t_amb, archetype.h_w_k, archetype.t_base_degc)[:, 0]
                     + dhw_heat_kw(t, archetype.dhw_kwh_per_year)[:, 0]) * network.n_connections
            hn = heat_network_dispatch(q_net, t_amb, network, dt_h=dt_h, soc_init_frac=soc_net)
            soc_net = float(hn.soc_frac[-1])
        # batteries: home self-consumption, one neighbourhood battery per wijk shaving 1/40 of the wijk's load
        with part("battery"):
            bh = battery_dispatch(np.hstack(home_net), home_fleet, DispatchRule.self_consumption, dt_h=dt_h,
                                  soc_init_frac=soc_home)
            bt = battery_dispatch(wijk_net / 40.0, trafo_fleet, DispatchRule.peak_shaving, dt_h=dt_h,
                                  threshold_kw=150.0, soc_init_frac=soc_trafo)
            soc_home, soc_trafo = bh.soc_frac[-1], bt.soc_frac[-1]
        with part("bookkeeping"):
            cat_kw["solar_field"] = -fields_kw[i0:i1]
            cat_kw["wind"] = -wind_kw[i0:i1]
            cat_kw["heat_network"] = hn.p_electric_kw
            cat_kw["battery"] = bh.p_battery_kw.sum(axis=1) + bt.p_battery_kw.sum(axis=1)
            for name, v in cat_kw.items():
                e_mwh[name] += float(np.sum(v)) * dt_h / 1000.0
                city_kw = city_kw + v
            peak_mw = max(peak_mw, float(city_kw.max()) / 1000.0)
    return e_mwh, peak_mw, part


def _measure_city_year(weather, city):
    """One timed city-year (and an untimed traced week): the figures of ``extra_info`` and a printable line."""
    # tracemalloc slows every allocation (the Python-side parts by up to 2x), so the traced
    # peak comes from an untimed week: blocks are reduced and dropped, memory does not grow
    # with the horizon (the process peak RSS below is of the whole year)
    traced_mb = _traced_peak_mb(lambda: _city_year(weather, city, n_block=7))
    t0, c0 = time.perf_counter(), time.process_time()
    e_mwh, peak_mw, part = _city_year(weather, city)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    n_home = N_WIJK * HOMES_PER_WIJK
    n_value = n_home * len(YEAR)
    # physical sanity of what was computed (not a test of the models)
    assert 0.9 < e_mwh["household"] * 1000 / n_home / 2700 < 1.1
    assert e_mwh["heat_pump"] > 0 and e_mwh["rooftop_pv"] < 0 and e_mwh["wind"] < 0 and peak_mw > 0
    household_cpu_s = part.cpu_s["household"]
    threads = numba.get_num_threads()
    info = dict(wall_s=wall_s, cpu_s=cpu_s, household_cpu_s=household_cpu_s,
                household_share=household_cpu_s / cpu_s,
                household_ns_per_value=household_cpu_s / n_value * 1e9,
                peak_traced_mb=traced_mb, peak_rss_mb=rss_mb,
                n_value_household=n_value, numba_threads=threads, breakdown=part.table(),
                e_mwh=e_mwh, city_peak_mw=peak_mw, package_dir=str(Path(energy_sim.__file__).parent))
    parts = "; ".join(f"{k} {v['cpu_s']:.2f} s CPU / {v['wall_s']:.2f} s wall" for k, v in part.table().items())
    line = (f"\ncity-year profiles ({n_home} homes, all asset kinds, {len(YEAR)} steps): wall {wall_s:.1f} s, "
            f"CPU {cpu_s:.1f} s ({threads} numba thread(s)), of which household "
            f"{household_cpu_s:.1f} s ({household_cpu_s / cpu_s:.0%}, {household_cpu_s / n_value * 1e9:.1f} ns CPU "
            f"per value); peak traced numpy memory {traced_mb:.0f} MB, process peak RSS {rss_mb:.0f} MB; "
            f"parts: {parts}; "
            + ", ".join(f"{k} {v:,.0f} MWh" for k, v in e_mwh.items()) + f"; city peak {peak_mw:.1f} MW"
            + f" (package {info['package_dir']})")
    return info, line


def test_city_year_all_assets(benchmark, weather, city):
    _city_year(weather, city, n_block=1)  # compile / load numba kernels, cache solar position
    info, line = benchmark.pedantic(lambda: _measure_city_year(weather, city), rounds=1, iterations=1)
    benchmark.extra_info.update(info)
    print(line)


def _child_main():
    """The 2-thread child: prepare, print ``ready``, wait for a line on stdin, compute the year, print JSON."""
    weather = synthetic_weather(YEAR, seed=SEED)
    city = _city_fixture()
    _city_year(weather, city, n_block=1)
    print("ready", flush=True)
    sys.stdin.readline()
    info, line = _measure_city_year(weather, city)
    print(json.dumps({"info": info, "line": line}), flush=True)


def test_city_year_all_assets_2_threads(benchmark):
    """The city-year with numba's 2 threads (a normal run on the 2-core machine); see the module docstring."""
    env = dict(os.environ, NUMBA_NUM_THREADS="2")

    def start():
        child = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, env=env, cwd=Path(__file__).parent.parent)
        assert child.stdout.readline().strip() == "ready"
        return (child,), {}

    def year(child):
        child.stdin.write("go\n")
        child.stdin.flush()
        out = child.stdout.readline()
        assert child.wait() == 0
        return json.loads(out)

    result = benchmark.pedantic(year, setup=start, rounds=1, iterations=1)
    assert result["info"]["numba_threads"] == 2
    benchmark.extra_info.update(result["info"])
    print(result["line"])


def test_homes_blocks_as_the_engine(benchmark, weather, city):
    """The homes of the city's 10 wijken, 30 one-day blocks, as the engine computes them
    (``CityHomesBlock.fill``: one household call for all wijken, then heat pumps and the per-step totals;
    arrays reused). CPU per block and the household kernel's share in ``extra_info``."""
    archetype, wijken = city
    pv_per_kwp = rooftop_pv_kw_per_kwp(weather)
    city_homes = CityHomesBlock(_wijk_homes(archetype, wijken), BLOCK)
    n_block = 30

    def blocks(first, part):
        for b in range(first, first + n_block):
            i0, i1 = b * BLOCK, (b + 1) * BLOCK
            with _timed_household_kernel(part):
                city_homes.fill(YEAR[i0:i1], weather.t_amb_degc[i0:i1], pv_per_kwp[i0:i1],
                                [np.random.default_rng([SEED, STREAM_HOUSEHOLD_NOISE, k, b]) for k in range(N_WIJK)])

    blocks(0, _Sections())  # compile / load numba kernels
    starts = iter(range(1, 365 - n_block, n_block))
    rounds = []

    def timed():
        part = _Sections()
        c0 = time.process_time()
        blocks(next(starts), part)
        rounds.append((time.process_time() - c0, part.cpu_s["household"]))

    benchmark.pedantic(timed, rounds=3, iterations=1)
    cpu_s, household_s = min(rounds)
    block_ms, household_ms = cpu_s / n_block * 1e3, household_s / n_block * 1e3
    benchmark.extra_info.update(cpu_ms_per_block=block_ms, household_cpu_ms_per_block=household_ms,
                                other_cpu_ms_per_block=block_ms - household_ms)
    print(f"\nhomes' blocks ({N_WIJK * HOMES_PER_WIJK} homes): {block_ms:.1f} ms CPU per block, of which the "
          f"household kernel {household_ms:.1f} ms; year {block_ms * 365 / 1e3:.1f} s")


# ---- each kernel on its own ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_step", [96, 672])
def test_household_load_block(benchmark, city, n_step):
    _, wijken = city
    annual = np.concatenate([w.annual_kwh for w in wijken])
    traits = household_traits(annual.size, rng=np.random.default_rng([SEED, 3]), common_seed=SEED)
    t = YEAR[: n_step]
    household_load_kw(t, annual[:10], rng=np.random.default_rng(0), traits=household_traits(10, rng=np.random.default_rng(0)))
    out = benchmark.pedantic(household_load_kw, args=(t, annual), rounds=5, iterations=1,
                             kwargs=dict(rng=np.random.default_rng([SEED, 4, 0, 0]), traits=traits))
    assert out.shape == (n_step, annual.size)
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.median / out.size * 1e9


def test_household_load_wijk_blocks(benchmark, city):
    """As the engine calls it: per block, once per wijk of 4,000 homes (the block's calendar is computed
    on the first call and reused); each round is a new day."""
    _, wijken = city
    blocks = iter(range(1, 365))
    out = np.empty((BLOCK, HOMES_PER_WIJK), np.float32)

    def one_block():
        b = next(blocks)
        t = YEAR[b * BLOCK:(b + 1) * BLOCK]
        for k, w in enumerate(wijken):
            household_load_kw(t, w.annual_kwh, rng=np.random.default_rng([SEED, STREAM_HOUSEHOLD_NOISE, k, b]),
                              traits=w.traits, out=out)

    household_load_kw(YEAR[:BLOCK], wijken[0].annual_kwh, rng=np.random.default_rng(0), traits=wijken[0].traits,
                      out=out)
    benchmark.pedantic(one_block, rounds=10, iterations=1)
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.median / (N_WIJK * out.size) * 1e9


def test_household_load_city_blocks(benchmark, city):
    """As test_household_load_wijk_blocks, but the ten wijken in one call (``household_groups_load_kw``): the same
    values; with 2 numba threads one parallel region per block instead of ten."""
    _, wijken = city
    blocks = iter(range(1, 365))
    out = np.empty((BLOCK, N_WIJK * HOMES_PER_WIJK), np.float32)

    def one_block():
        b = next(blocks)
        t = YEAR[b * BLOCK:(b + 1) * BLOCK]
        household_groups_load_kw(t, [
            HouseholdGroup(w.annual_kwh, w.traits, np.random.default_rng([SEED, STREAM_HOUSEHOLD_NOISE, k, b]))
            for k, w in enumerate(wijken)], out=out)

    household_load_kw(YEAR[:BLOCK], wijken[0].annual_kwh, rng=np.random.default_rng(0), traits=wijken[0].traits)
    benchmark.pedantic(one_block, rounds=10, iterations=1)
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.median / out.size * 1e9


def test_heat_pump_group_block(benchmark, weather, city):
    archetype, wijken = city
    h = np.concatenate([w.hp_h_w_k for w in wijken])
    t, t_amb = YEAR[:BLOCK], weather.t_amb_degc[:BLOCK]
    args = (t, t_amb, h, archetype.t_base_degc, archetype.dhw_kwh_per_year, "air_source_8kw")
    heat_pump_group_electric_kw(*args)
    out = benchmark.pedantic(heat_pump_group_electric_kw, args=args, rounds=20, iterations=1)
    assert out.shape == (BLOCK, h.size)


def test_heat_pump_chain_block(benchmark, weather, city):
    """The engine's current path (HeatPumpGroup.electric_kw): space_heat_kw, dhw_heat_kw, heat_pump_electric_kw."""
    archetype, wijken = city
    h = np.concatenate([w.hp_h_w_k for w in wijken])
    t, t_amb = YEAR[:BLOCK], weather.t_amb_degc[:BLOCK]

    def chain():
        space = space_heat_kw(t_amb, h, archetype.t_base_degc)
        dhw = dhw_heat_kw(t, archetype.dhw_kwh_per_year)
        return heat_pump_electric_kw(space, t_amb, "air_source_8kw", dhw_kw=np.reshape(dhw, (-1, 1)),
                                     t_base_degc=archetype.t_base_degc).p_electric_kw

    chain()
    out = benchmark.pedantic(chain, rounds=20, iterations=1)
    assert out.shape == (BLOCK, h.size)


def test_weather_synthetic_year(benchmark):
    w = benchmark.pedantic(synthetic_weather, args=(YEAR,), kwargs=dict(seed=SEED + 1), rounds=3, iterations=1)
    assert w.t_amb_degc.shape == (len(YEAR),)


def test_rooftop_pv_year(benchmark, weather):
    # a fresh Weather object per round: the solar position is cached per object
    out = benchmark.pedantic(lambda: rooftop_pv_kw_per_kwp(dataclasses.replace(weather)), rounds=3, iterations=1)
    assert out.shape == (len(YEAR),)


def test_solar_field_year(benchmark, weather):
    out = benchmark.pedantic(lambda: solar_field_ac_kw(dataclasses.replace(weather), BOELDERSHOEK_WEST),
                             rounds=3, iterations=1)
    assert out.shape == (len(YEAR),)


def test_wind_turbine_year(benchmark, weather):
    turbine = load_turbine_catalogue()["E-141/4200"]

    def run():
        wind = hub_height_wind_m_s(weather.wind_speed_10m_m_s, 135.0)
        rho = air_density_kg_m3(weather.t_amb_degc, weather.pressure_pa, 135.0)
        return wind_turbine_power_kw(wind, turbine, air_density_kg_m3=rho)

    out = benchmark.pedantic(run, rounds=10, iterations=1)
    assert out.shape == (len(YEAR),)


def test_heat_network_year(benchmark, weather):
    network = hengelo_dec_network(950)
    a = load_building_archetype("average_dwelling")
    q = (space_heat_kw(weather.t_amb_degc, a.h_w_k, a.t_base_degc)[:, 0]
         + dhw_heat_kw(YEAR, a.dhw_kwh_per_year)[:, 0]) * network.n_connections
    heat_network_dispatch(q[:96], weather.t_amb_degc[:96], network)
    r = benchmark.pedantic(heat_network_dispatch, args=(q, weather.t_amb_degc, network), rounds=5, iterations=1)
    assert r.p_electric_kw.shape == (len(YEAR),)


def test_home_batteries_year(benchmark, weather):
    rng = np.random.default_rng(1)
    net = rng.gamma(2.0, 0.2, (len(YEAR), 400)) - 3.5 * rooftop_pv_kw_per_kwp(weather)[:, None]
    fleet = home_batteries(400)
    battery_dispatch(net[:96], fleet)
    r = benchmark.pedantic(battery_dispatch, args=(net, fleet), rounds=3, iterations=1)
    assert r.soc_frac.shape == net.shape


if __name__ == "__main__":
    _child_main()

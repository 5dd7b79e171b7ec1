"""Wire the stages: scenario -> profiles -> grid -> results (DESIGN.md).

`run_scenario` builds the city's grids once, then walks the horizon in blocks
(the congestion manager's control block, default one day): profiles for the
block, load flow of every LV grid and of the MV network, reductions, and the
block's results written to disk before the next block starts.  Memory holds
one block plus per-element running figures, whatever the horizon.

Random streams: every draw comes from ``np.random.default_rng([seed, STREAM,
...])`` with a fixed stream number per purpose (below, and 2-6 for the homes
in `energy_sim.profiles.homes`), so the same scenario
and seed give identical results, and adding a wijk does not change the draws
of the others.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from energy_sim import __version__
from energy_sim.events.outages import OutageGrid, OutageSchedule, outage_note, schedule_outages
from energy_sim.events.heat_pump_flex import HeatPumpDeferral
from energy_sim.events.wiring import build_ev_wiring, home_transformers, mv_charging_hub_ids
from energy_sim.grid.build import (
    CityGrid,
    ConnectionKind,
    LvConnection,
    LvGridParameters,
    MvConnection,
    StationSite,
    WijkSpec,
    build_city_grid,
)
from energy_sim.grid.given import GivenGridError, GivenNet, given_positions, load_given_net
from energy_sim.grid.given import describe as describe_given
from energy_sim.grid.given_mv import GivenCity, build_given_city_grid, load_given_city
from energy_sim.grid.given_mv import describe as describe_given_city
from energy_sim.grid.metrics import LoadingAccumulator
from energy_sim.grid.simulate import CitySolver, HomePower, HouseholdReactive, LvSolver, MvTopology, PvPerKwp
from energy_sim.profiles.assets_in_runs import assets_in_run, heat_network_dwellings
from energy_sim.profiles.homes import HOUSEHOLD_Q_PER_P, STREAM_HOUSEHOLD_NOISE, CityHomesBlock, WijkHomes, wijk_homes
from energy_sim.profiles.solar import SolarField as SolarFieldModel
from energy_sim.profiles.solar import rooftop_pv_kw_per_kwp, solar_field_ac_kw
from energy_sim.profiles.weather import Weather, WeatherError, read_knmi_uurgeg, read_weather_csv, read_weather_netcdf, synthetic_weather
from energy_sim.profiles.wind import air_density_kg_m3, hub_height_wind_m_s, load_turbine_catalogue, wind_turbine_power_kw
from energy_sim.results.dataset import CATEGORIES, block_dataset, horizon_dataset
from energy_sim.results.export import export_csv
from energy_sim.results.store import ResultsWriter, open_results
from energy_sim.results.summary import RunSummary, summarise
from energy_sim.scenario import Scenario, load_scenario, scenario_hash
from energy_sim.scenario.schema import GridSource, LoadFlowSolver, ManagerForecast, Measure, OutputFormat, WeatherSource
from energy_sim.timing import StageClock

# random streams (see module docstring); 2-6 are the homes' (energy_sim.profiles.homes)
STREAM_GRID = 1
STREAM_EV = 7
STREAM_EV_ADOPTION = 8
STREAM_OUTAGES = 9
STREAM_FORECAST = 10

#: Share of a transformer's rating in kVA that an instructed LV battery lets
#: its grid draw as active power at the manager's target [-]. ASSUMPTION:
#: the household power factor above. Loading is apparent power over rating;
#: the grid's reactive power is the households' (heat pumps, EV chargers,
#: PV and batteries run at cos(phi) ~ 1), at most tan(acos(0.97)) times the
#: net active load at an evening peak, so P <= 0.97 x target x S_rated keeps
#: S within the target up to the grid's own losses (~1-2 % at full load).
BATTERY_LIMIT_POWER_FACTOR = 0.97

#: What the engine does not simulate yet; printed with every summary.
NOT_YET_SIMULATED = (
    "dispatch of MV batteries by the congestion manager (issue 5): it applies smart-charging caps (EVs per MV/LV "
    "transformer), flexible connections (fast plazas, bus depots), curtailment (rooftop PV per MV/LV transformer; "
    "MV solar fields and wind turbines by a feed-in limit per block where the station or an MV cable is forecast "
    "above the target), battery dispatch of LV batteries (a net-load limit per block on an overloaded transformer) "
    "and, when listed, heat-pump flexibility (experimental); the manager runs within the events layer, so only in "
    "scenarios with EVs or chargers",
)


class RunError(Exception):
    """A run that could not complete, with the exit status the CLI should use."""

    def __init__(self, message: str, exit_status: int = 1):
        super().__init__(message)
        self.exit_status = exit_status


@dataclass
class RunOutcome:
    """What a run produced: where the results are and the per-wijk summary."""

    scenario: Scenario
    run_dir: Path
    results_path: Path
    summary: RunSummary
    wall_time_s: float
    notes: list[str] = field(default_factory=list)
    #: wall and CPU seconds per stage of the run
    stages: StageClock | None = None

    def summary_text(self) -> str:
        text = self.summary.text(self.results_path, self.wall_time_s, self.notes)
        return text if self.stages is None else f"{text}\nTime per stage: {self.stages.text()}"

    def summary_json(self) -> dict:
        summary = self.summary.as_json(self.results_path, self.wall_time_s, self.notes)
        return summary if self.stages is None else {**summary, "stage_time_s": self.stages.as_dict()}


def run_scenario_file(path: str | Path, *, output_dir: Path | None = None, progress: bool = True) -> RunOutcome:
    """Validate the scenario in `path` completely, then run it (raises `ScenarioError` first)."""
    scenario = load_scenario(path)
    return run_scenario(scenario, output_dir=output_dir, progress=progress)


def horizon_index(scenario: Scenario) -> pd.DatetimeIndex:
    """Start of every time step of the horizon [UTC]."""
    h = scenario.horizon
    return pd.date_range(h.start_utc, h.end_utc, freq=f"{h.resolution_min}min", inclusive="left", name="time")


def load_weather(scenario: Scenario, time_utc: pd.DatetimeIndex) -> Weather:
    """The scenario's weather on the horizon; a bad weather file raises `RunError` (exit 2)."""
    w = scenario.weather
    fill = None if w.fill_gaps == "none" else w.fill_gaps
    try:
        if w.source == WeatherSource.synthetic:
            return synthetic_weather(time_utc, seed=scenario.seed, latitude_deg=w.latitude_deg, longitude_deg=w.longitude_deg)
        if w.source == WeatherSource.knmi:
            return read_knmi_uurgeg(w.path, time_utc, fill_gaps=fill)
        if w.source == WeatherSource.csv:
            return read_weather_csv(w.path, time_utc, fill_gaps=fill)
        return read_weather_netcdf(w.path, time_utc, fill_gaps=fill)
    except WeatherError as exc:
        raise RunError(f"weather: {exc}", exit_status=2) from exc


# --------------------------------------------------------------------------


def _active(asset, time_utc: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """1.0 while an asset is between its commissioning and decommissioning dates, else 0.0."""
    local_date = time_utc.tz_convert(timezone).date
    on = np.ones(len(time_utc))
    if asset.commissioned is not None:
        on[local_date < asset.commissioned] = 0.0
    if asset.decommissioned is not None:
        on[local_date >= asset.decommissioned] = 0.0
    return on


def _mv_generation_mw(scenario: Scenario, weather: Weather, time_utc: pd.DatetimeIndex,
                      wijk_codes=None) -> tuple[list[str], list[str], np.ndarray]:
    """Solar fields and wind turbines on the MV network of the simulated wijken: ids, categories, power [n_step, n] [MW]."""
    ids, categories, columns = [], [], []
    tz = scenario.horizon.timezone
    for f in _in_run(scenario.assets.solar_fields, wijk_codes):
        model = SolarFieldModel(
            name=f.name, p_peak_kwp=f.p_peak_kwp, surface_tilt_deg=f.tilt_deg, surface_azimuth_deg=f.azimuth_deg,
            dc_ac_ratio=f.dc_ac_ratio, availability_frac=f.availability_frac,
        )
        ids.append(f.name)
        categories.append("solar_field")
        columns.append(solar_field_ac_kw(weather, model) * _active(f, time_utc, tz) / 1000.0)
    if scenario.assets.wind_turbines:
        catalogue = load_turbine_catalogue()
        for t in _in_run(scenario.assets.wind_turbines, wijk_codes):
            turbine = catalogue[t.model]
            wind = hub_height_wind_m_s(weather.wind_speed_10m_m_s, t.hub_height_m)
            rho = air_density_kg_m3(weather.t_amb_degc, weather.pressure_pa, t.hub_height_m)
            p_kw = wind_turbine_power_kw(wind, turbine, air_density_kg_m3=rho, availability_frac=t.availability_frac)
            ids.append(t.name)
            categories.append("wind")
            columns.append(p_kw * t.count * _active(t, time_utc, tz) / 1000.0)
    power = np.column_stack(columns) if columns else np.zeros((len(time_utc), 0))
    return ids, categories, power


def lv_grid_parameters(grid) -> LvGridParameters:
    """The generated LV grids' sizing rules from a scenario's ``grid`` section.

    The band of homes per transformer and of feeders per transformer widens
    to include the scenario's targets when they lie outside Dutch practice
    (150-200 homes, 4-8 feeders).
    """
    return LvGridParameters(
        homes_per_trafo_target=grid.homes_per_trafo,
        homes_per_trafo_min=min(150, round(0.85 * grid.homes_per_trafo)),
        homes_per_trafo_max=max(200, round(1.15 * grid.homes_per_trafo)),
        homes_per_feeder_target=grid.homes_per_trafo / grid.feeders_per_trafo,
        feeders_min=min(4, grid.feeders_per_trafo),
        feeders_max=max(8, grid.feeders_per_trafo),
        feeder_cable_type=grid.lv_cable_type,
        trafo_type=grid.trafo_type,
    )


def _in_run(items, wijk_codes) -> list:
    """The assets of `items` in the simulated wijken (all when `wijk_codes` is None)."""
    return [item for item in items if wijk_codes is None or item.wijk in wijk_codes]


def _grid_connections(scenario: Scenario, wijk_codes=None) -> tuple[list[LvConnection], list[MvConnection]]:
    """Every non-household connection of the simulated wijken, on LV or MV by its size."""
    lv: list[LvConnection] = []
    mv: list[MvConnection] = []
    a = scenario.assets
    for park in _in_run(a.ev_chargers, wijk_codes):
        if park.kind in ("fast", "bus_depot"):
            mv.append(MvConnection(park.name, ConnectionKind.charging_hub, park.wijk, park.count * park.p_kw / 1000.0))
        else:
            lv += [LvConnection(f"{park.name}/{i + 1}", ConnectionKind.ev_charger, park.wijk, p_kw=park.p_kw)
                   for i in range(park.count)]
    for f in _in_run(a.solar_fields, wijk_codes):
        mv.append(MvConnection(f.name, ConnectionKind.solar_field, f.wijk, f.p_peak_kwp / f.dc_ac_ratio / 1000.0))
    for t in _in_run(a.wind_turbines, wijk_codes):
        rated_mw = load_turbine_catalogue()[t.model].rated_power_kw * t.count / 1000.0
        mv.append(MvConnection(t.name, ConnectionKind.wind_turbine, t.wijk, rated_mw))
    for h in _in_run(a.heat_networks, wijk_codes):
        p_mw = (h.heat_pump_p_th_kw / 3.0 + h.e_boiler_p_kw) / 1000.0
        mv.append(MvConnection(h.name, ConnectionKind.heat_plant, h.wijk, max(p_mw, 0.1)))
    for b in _in_run(a.batteries, wijk_codes):
        if b.p_kw >= 1000:
            mv.append(MvConnection(b.name, ConnectionKind.battery, b.wijk, b.p_kw / 1000.0, e_mwh=b.e_kwh / 1000.0))
        else:
            lv.append(LvConnection(b.name, ConnectionKind.battery, b.wijk, p_kw=b.p_kw, e_kwh=b.e_kwh))
    return lv, mv


def _given_grids(wijken) -> dict[str, GivenNet]:
    """The split given net of every wijk with ``grid`` set (validation has read each already; cached)."""
    given = {}
    for w in wijken:
        if w.grid is None:
            continue
        try:
            given[w.code] = load_given_net(w.grid.source.value, path=w.grid.path, simbench_code=w.grid.simbench_code)
        except GivenGridError as exc:  # changed on disk since validation
            raise RunError(f"wijken {w.code} grid: {exc.message}  [{exc.rule}]", exit_status=2) from None
        if w.dwellings < given[w.code].n_points:
            raise RunError(f"wijk {w.code}: {w.dwellings} dwellings for the {given[w.code].n_points} connection "
                           f"points of {given[w.code].source}; each point needs at least one", exit_status=2)
    return given


def _given_city(grid) -> GivenCity:
    """The split whole-city net of ``grid`` (validation has read it already; cached)."""
    try:
        return load_given_city(grid.source.value, path=grid.path, simbench_code=grid.simbench_code)
    except GivenGridError as exc:  # changed on disk since validation
        raise RunError(f"grid: {exc.message}  [{exc.rule}]", exit_status=2) from None


def _city_grid(scenario: Scenario, wijken: list, notes: list[str]) -> tuple[CityGrid, list[MvConnection]]:
    """The grids of the simulated `wijken`, generated or given, and the MV connections on them.

    Given grids add a note each on what was taken from the file and what the
    scenario replaced.
    """
    lv_conns, mv_conns = _grid_connections(scenario, [w.code for w in wijken])
    g = scenario.grid
    rng = np.random.default_rng([scenario.seed, STREAM_GRID])
    specs = tuple(WijkSpec(w.code, w.name, w.dwellings, w.lon_deg, w.lat_deg) for w in wijken)
    if g.source != GridSource.generated:
        given_city = _given_city(g)
        try:
            city = build_given_city_grid(given_city, specs, rng=rng,
                                         lv_connections=tuple(lv_conns), mv_connections=tuple(mv_conns))
        except (GivenGridError, ValueError) as exc:
            raise RunError(f"grid: {exc}", exit_status=2) from None
        notes.append(describe_given_city(given_city, [w.code for w in wijken]))
        for w in wijken:
            notes.append(describe_given(given_city.parts_of(w.code, len(wijken)), w.code, w.dwellings, None))
        return city, mv_conns
    given = _given_grids(wijken)
    city = build_city_grid(specs, rng=rng, lv_params=lv_grid_parameters(g),
                           lv_connections=tuple(lv_conns), mv_connections=tuple(mv_conns), given=given,
                           stations=[StationSite(s.name, s.lon_deg, s.lat_deg) for s in g.stations] or None)
    for w in wijken:
        if w.code in given:
            used = given_positions(given[w.code], w.lon_deg, w.lat_deg) is not None
            notes.append(describe_given(given[w.code], w.code, w.dwellings, used))
    return city, mv_conns


def _homes_on_grid(scenario: Scenario, wijken: list, city: CityGrid,
                   notes: list[str]) -> tuple[dict[str, WijkHomes], dict[str, list[str]]]:
    """Per wijk: its homes in the column order of its household connections, and its other LV connections' ids."""
    homes: dict[str, WijkHomes] = {}
    extra_ids: dict[str, list[str]] = {}
    on_heat_network = heat_network_dwellings(scenario, [w.code for w in wijken])
    for k, w in enumerate(wijken):
        conns = pd.concat([grid.connections for grid in city.lv_grids[w.code]], ignore_index=True)
        extra_ids[w.code] = conns.connection_id[(conns.element == "load") & (conns.kind != "household")].tolist()
        homes[w.code] = wijk_homes(w, k, conns.connection_id[conns.kind == "household"].tolist(), scenario.seed,
                                   on_heat_network[w.code])
        if on_heat_network[w.code] > len(homes[w.code].ids):
            notes.append(f"wijk {w.code}: heat networks connect {on_heat_network[w.code]} dwellings but the wijk "
                         f"has {len(homes[w.code].ids)}; all its homes are on heat and their demand is simulated in full")
    return homes, extra_ids


#: Most ``pandapower.runpp`` calls a run with ``grid.solver: pandapower`` may take (steps x nets). A
#: day of the smoke wijk (96 steps x 3 nets) took 22 s of load flow, ~75 ms a call: 50,000 calls are
#: about an hour; a city-year would be 35,040 x 211 = 7.4 million calls (a week).
MAX_REFERENCE_RUNPP_CALLS = 50_000
#: Time per ``runpp`` call for the estimate in the refusal [s] (measured as above).
REFERENCE_RUNPP_CALL_S = 0.075


def _lv_solver(scenario: Scenario, city: CityGrid, n_step: int, notes: list[str]) -> LvSolver:
    """The batched solver, or pandapower's runpp per step (``grid.solver: pandapower``) when the run is small enough."""
    if scenario.grid.solver == LoadFlowSolver.batched:
        return LvSolver.merged
    n_net = sum(len(grids) for grids in city.lv_grids.values()) + 1
    calls = n_step * n_net
    if calls > MAX_REFERENCE_RUNPP_CALLS:
        raise RunError(
            f"grid.solver 'pandapower' would take {n_step:,} steps x {n_net} nets = {calls:,} pandapower.runpp calls "
            f"(more than {MAX_REFERENCE_RUNPP_CALLS:,}, roughly {calls * REFERENCE_RUNPP_CALL_S / 3600:,.1f} h); "
            f"it is the reference for checking the batched solver on a short horizon or a few wijken: shorten the horizon, set "
            f"simulate: false on wijken, or use grid.solver: batched (validated against runpp to 1e-6 p.u.)",
            exit_status=2,
        )
    notes.append(f"load flow by pandapower.runpp per step and net (grid.solver: pandapower, the reference): "
                 f"{calls:,} calls, plus the congestion manager's forecasts if it is on")
    return LvSolver.pandapower


def _outage_schedule(scenario: Scenario, solver: CitySolver, mv_ids: list[str], mv_categories: list[str],
                     mv_wijk: dict[str, str], time_utc: pd.DatetimeIndex) -> OutageSchedule | None:
    """The run's outages on the built grid; None when there are none (the run takes the path without).

    Validation has checked the planned outages' elements against the grid the
    engine builds; a mismatch here is caught before the first block with the
    same kind of message (exit status 2).
    """
    o = scenario.outages
    if not o.planned and not o.random.enabled:
        return None
    units = {t.name: t.count for t in scenario.assets.wind_turbines}
    generators = pd.DataFrame({
        "name": mv_ids, "kind": ["wind_turbine" if c == "wind" else c for c in mv_categories],
        "wijk": [mv_wijk[i] for i in mv_ids], "column": np.arange(len(mv_ids)),
        "n_units": [units.get(i, 1) for i in mv_ids]})
    grid = OutageGrid(solver.lv_trafo_ids, solver.lv_trafo_wijk, solver.lv_trafo_ring, solver.mv_ring_cable_table(),
                      generators)
    known = {"mv_cable": set(grid.cables.feeds) - {""}, "mv_lv_transformer": set(grid.substations),
             "wind_turbine": set(generators.name[generators.kind == "wind_turbine"]),
             "solar_field": set(generators.name[generators.kind == "solar_field"])}
    bad = [f"outages.planned[{i}].element is not in the grid built for this run (got {p.element!r}); "
           f"{p.kind.value} elements: {', '.join(sorted(known[p.kind.value])[:8]) or 'none'}  [unknown_reference]"
           for i, p in enumerate(o.planned) if p.element not in known[p.kind.value]]
    if bad:
        raise RunError("\n".join(bad), exit_status=2)
    dt_s = scenario.horizon.resolution_min * 60.0
    return schedule_outages(o, grid, time_utc[0], len(time_utc) * dt_s, scenario.horizon.timezone,
                            np.random.default_rng([scenario.seed, STREAM_OUTAGES]))


def _solve_block(solver: CitySolver, outages: OutageSchedule | None, block_start_s: float, dt_h: float, *args,
                 **kwargs):
    """`solver.solve_block(*args, **kwargs)` in the block's outage topology; records the energy not served."""
    if outages is None or not outages.changes_topology:
        return solver.solve_block(*args, **kwargs)
    block = outages.block(block_start_s, len(args[5]), dt_h * 3600.0)
    topology = None if block.mv_state is None else [MvTopology(*state) for state in block.mv_state]
    grid = solver.solve_block(*args, mv_topology=topology, lv_out=block.lv_out, **kwargs)
    outages.record_unserved(block, grid.lv_unserved_p_mw, dt_h)
    return grid


class _HeatPumpFlexibility:
    """The engine's side of heat-pump flexibility: heat pumps per transformer, caps applied per block.

    Heat-pump power is summed per MV/LV transformer (``has_heat_pumps``
    marks those with any); the manager's caps and the rebound
    (`energy_sim.events.heat_pump_flex.HeatPumpDeferral`) act on these sums,
    and each home's heat pump is scaled by its transformer's ratio. Heat
    pumps come per wijk as ``[n_step, n_heat_pump]`` arrays in the columns
    ``WijkHomes.heat_pump_columns`` (`energy_sim.profiles.homes.HomesBlock`).
    """

    def __init__(self, homes: dict, home_trafo: dict[str, np.ndarray], n_trafo: int, dt_h: float):
        import scipy.sparse as sps

        self.n_trafo = n_trafo
        self.columns, self.member, self.spread_weight, self.trafo = {}, {}, {}, {}
        counts = np.zeros(n_trafo)
        for code, h in homes.items():
            columns = h.heat_pump_columns
            trafo = home_trafo[code][columns]
            self.columns[code], self.trafo[code] = columns, trafo
            self.member[code] = sps.csr_matrix((np.ones(columns.size), (np.arange(columns.size), trafo)),
                                               shape=(columns.size, n_trafo))
            counts += np.bincount(trafo, minlength=n_trafo)
        self.has_heat_pumps = counts > 0
        for code, m in self.member.items():
            self.spread_weight[code] = (m @ sps.diags(1.0 / np.maximum(counts, 1))).tocsr()
        self.deferral = HeatPumpDeferral(n_trafo, dt_h)

    def spread(self, group_delta_kw: np.ndarray, home_p: HomePower) -> None:
        """Add each transformer's `group_delta_kw` [n_step, n_trafo] equally over its heat-pump homes, in place."""
        for code, w in self.spread_weight.items():
            home_p.add(code, self.columns[code], (w @ group_delta_kw.T).T)

    def group_sum(self, hp_kw: dict[str, np.ndarray]) -> np.ndarray:
        """Heat-pump power per transformer [n_step, n_trafo] from the heat pumps' arrays [kW]."""
        return sum(np.asarray((self.member[code].T @ hp.T).T) for code, hp in hp_kw.items())

    def apply(self, hp_kw: dict[str, np.ndarray], home_p: HomePower, manager) -> np.ndarray:
        """Cap and rebound this block's heat pumps in place (``hp_kw``, ``home_p``); return the uncapped
        heat-pump power per transformer [n_step, n_trafo] (the manager's forecast for the next block)."""
        group_kw = self.group_sum(hp_kw)
        n = len(group_kw)
        hold = None if manager.hp_hold_kw is None else manager.hp_hold_kw[:n, :self.n_trafo]
        rebound = None if manager.hp_rebound_caps_kw is None else manager.hp_rebound_caps_kw[:n, :self.n_trafo]
        held_before = self.deferral.held_back_kwh.copy()
        new_kw = self.deferral.apply(group_kw, hold, rebound)
        manager.record_heat_pumps(np.concatenate([self.deferral.held_back_kwh - held_before,
                                                  np.zeros(manager.n_group - self.n_trafo)]))
        ratio = np.divide(new_kw, group_kw, out=np.ones_like(new_kw), where=group_kw > 0)
        for code, hp in hp_kw.items():
            scaled = hp * ratio[:, self.trafo[code]]
            home_p.add(code, self.columns[code], scaled - hp)
            hp_kw[code] = scaled
        return group_kw


def run_scenario(scenario: Scenario, *, output_dir: Path | None = None, progress: bool = True) -> RunOutcome:
    """Simulate a validated scenario and write its results.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see `energy_sim.scenario.load_scenario`).
    output_dir : Path, optional
        Results folder; default the scenario's ``outputs.directory``. The run
        writes to ``<output_dir>/<meta.name>/``.
    progress : bool
        Show a progress bar on standard error.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    clock = StageClock()
    seed = scenario.seed
    time_utc = horizon_index(scenario)
    dt_h = scenario.horizon.dt_h
    wijken = [w for w in scenario.wijken if w.simulate]
    if not wijken:
        raise RunError("no wijk has simulate: true; nothing to run", exit_status=2)
    notes = [f"not simulated yet: {item}" for item in NOT_YET_SIMULATED]
    skipped = [w.code for w in scenario.wijken if not w.simulate]
    if skipped:
        notes.append(f"wijken left out (simulate: false): {', '.join(skipped)}")

    def stage(message: str) -> None:
        if progress:
            print(f"{scenario.meta.name}: {message} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    stage(f"weather for {len(time_utc)} steps")
    weather = load_weather(scenario, time_utc)
    clock.lap("weather")
    stage(f"building the grids of {len(wijken)} wijk(en)")
    city, mv_conns = _city_grid(scenario, wijken, notes)
    homes, extra_ids = _homes_on_grid(scenario, wijken, city, notes)
    g = scenario.grid
    clock.lap("grid build")
    stage(f"grids built ({city.n_buses:,} buses); preparing the load flow and the profiles")
    mv_ids, mv_categories, mv_power_mw = _mv_generation_mw(scenario, weather, time_utc, [w.code for w in wijken])
    mv_wijk = {c.connection_id: c.wijk_code for c in mv_conns}
    # MV loads (assets.mv_load_ids): heat plants, MV batteries, then charging hubs (fast plazas, bus depots)
    hub_ids = mv_charging_hub_ids(scenario, [w.code for w in wijken])
    assets = assets_in_run(scenario, [w.code for w in wijken], city.lv_grids, {c: h.ids for c, h in homes.items()},
                           extra_ids, city.mv.connections, lambda a: _active(a, time_utc, scenario.horizon.timezone),
                           dt_h, hub_ids)
    solver = CitySolver(city, [w.code for w in wijken], {c: h.ids for c, h in homes.items()}, extra_ids,
                        mv_ids, tuple(g.voltage_band_pu), mv_load_ids=assets.mv_load_ids,
                        lv_solver=_lv_solver(scenario, city, len(time_utc), notes))
    outages = _outage_schedule(scenario, solver, mv_ids, mv_categories, mv_wijk, time_utc)
    if outages is not None:
        mv_power_mw = outages.apply_to_generation(mv_power_mw, dt_h * 3600.0)
    pv_per_kwp = rooftop_pv_kw_per_kwp(weather)

    wijk_codes = [w.code for w in wijken]
    trafo_table = pd.concat([
        pd.DataFrame({"trafo": solver.lv_trafo_ids, "wijk": solver.lv_trafo_wijk, "level": "mv/lv",
                      "s_rated_mva": solver.lv_trafo_sn_mva}),
        solver.station_trafo_table().assign(wijk="", level="hv/mv"),
    ], ignore_index=True)
    line_table = pd.concat([
        solver.feeder_table().rename(columns={"feeder": "line"}).assign(level="lv")[["line", "wijk", "level", "s_rated_mva"]],
        solver.mv_line_table().assign(wijk="", level="mv"),
    ], ignore_index=True)
    block_steps = max(1, int(scenario.policies.congestion_manager.block_h * 60 // scenario.horizon.resolution_min))
    manager = scenario.policies.congestion_manager
    manage = manager.enabled and bool({Measure.smart_charging, Measure.flexible_connections,
                                       Measure.heat_pump_flexibility, Measure.curtailment,
                                       Measure.battery_dispatch} & set(manager.measures))
    trafo_of = {name: i for i, name in enumerate(solver.lv_trafo_ids)}
    home_trafo = home_transformers(city, wijk_codes, solver.lv_trafo_ids)
    # rooftop PV goes to the load flow as output per kWp per transformer times each home's kWp (PvPerKwp)
    home_kwp = {code: homes[code].pv_kwp for code in wijk_codes}
    trafo_pv_kwp = sum(np.bincount(home_trafo[c], home_kwp[c], len(trafo_of)) for c in wijk_codes)
    trafo_wijk = np.array(solver.lv_trafo_wijk)
    hp_flex = _HeatPumpFlexibility(homes, home_trafo, len(trafo_of), dt_h) \
        if manage and Measure.heat_pump_flexibility in manager.measures else None
    curtail = manage and Measure.curtailment in manager.measures
    # battery_dispatch: each LV battery's transformer and the net load that keeps it at the target
    lv_battery_group = {b.name: trafo_of[b.grid] for b in assets.batteries.batteries if b.level == "lv"}
    dispatch_batteries = manage and Measure.battery_dispatch in manager.measures and bool(lv_battery_group)
    battery_limit_kw = np.full(len(trafo_of), np.nan)
    for name, gi in lv_battery_group.items():
        battery_limit_kw[gi] = (manager.target_loading_pct / 100.0 * solver.lv_trafo_sn_mva[gi] * 1000.0
                                * BATTERY_LIMIT_POWER_FACTOR)
    pv_groups = np.zeros(len(trafo_of), dtype=bool)
    for code, h in homes.items():
        pv_groups[home_trafo[code][h.pv_kwp > 0]] = True
    # what the manager's solve reports: MV/LV transformers, LV feeder heads (their transformer's group), then
    # MV cables and the HV/MV station (shared by the charging hubs)
    element_group = np.concatenate([np.arange(len(trafo_of)),
                                    [trafo_of[s] for s in solver.feeder_table().substation]]).astype(np.int64)
    n_mv_element = len(solver.mv_line_table()) + len(solver.station_trafo_table())
    mv_elements = np.arange(len(element_group), len(element_group) + n_mv_element)
    element_group = np.concatenate([element_group, np.full(n_mv_element, -1)])

    def solve_with_ev(forecast, ev_kw: np.ndarray, group_delta_kw: np.ndarray | None = None,
                      pv_kw_per_kwp: np.ndarray | None = None, mv_gen_mw: np.ndarray | None = None) -> np.ndarray:
        """Loading of every managed element (see ``element_group``) for a block's base load plus `ev_kw`
        (and `group_delta_kw` [n_step, n_group] on each transformer's heat pumps; rooftop PV per kWp
        `pv_kw_per_kwp` [n_step, n_group] per transformer instead of the forecast's; MV generation
        `mv_gen_mw` [n_step, n_mv_generator] instead of the forecast's)."""
        base_p, base_q, base_pv, base_extra, base_mv, base_mv_load, base_t = forecast
        if mv_gen_mw is not None:
            base_mv = mv_gen_mw
        n = len(ev_kw)
        if pv_kw_per_kwp is not None:
            base_pv = PvPerKwp(pv_kw_per_kwp[:, :len(trafo_of)], home_trafo, home_kwp)
        p_kw = base_p.head(n).copy(household=False)  # the forecast's household load is its own copy
        if group_delta_kw is not None:
            hp_flex.spread(group_delta_kw[:n, :len(trafo_of)], p_kw)
        x_kw = {c: a[:n].copy() for c, a in base_extra.items()}
        mv_kw = base_mv_load[:n].copy()
        n_home = ev.simulation.n_home
        hub_kw = np.zeros((n, len(hub_ids)))
        ev.add(ev_kw[:, :n_home], ev_kw[:, n_home:], p_kw, x_kw, hub_kw)
        mv_kw[:, assets.hub_columns] += hub_kw
        grid = solver.solve_block(p_kw, base_q.head(n), base_pv.head(n), x_kw, base_mv[:n], base_t[:n],
                                  mv_load_p_mw=mv_kw / 1000.0)
        return np.hstack([grid.trafo_loading_pct, grid.feeder_loading_pct, grid.mv_line_loading_pct,
                          grid.station_trafo_loading_pct])

    ev = build_ev_wiring(
        scenario, city, wijken, {c: h.ids for c, h in homes.items()}, extra_ids, solver.lv_trafo_ids,
        solver.lv_trafo_wijk, time_utc, block_steps, np.random.default_rng([seed, STREAM_EV]),
        lambda k: np.random.default_rng([seed, STREAM_EV_ADOPTION, k]),
        solve=solve_with_ev if manage else None, element_group=element_group, mv_elements=mv_elements,
        heat_pump_groups=hp_flex.has_heat_pumps if hp_flex is not None else None,
        pv_groups=pv_groups if curtail else None,
        battery_limit_kw=battery_limit_kw if dispatch_batteries else None,
        mv_generator_names=mv_ids if curtail else (),
    )
    if manager.enabled and not manage:
        notes.append("congestion manager enabled without smart_charging, flexible_connections, "
                     "heat_pump_flexibility, curtailment or battery_dispatch among its measures: no measure it can "
                     "apply yet")
    if manage and ev is None:
        notes.append("congestion manager enabled, but the scenario has no EV or charger: the manager runs with "
                     "the events layer, so it applied nothing")

    trafo_acc = LoadingAccumulator(trafo_table.trafo.to_numpy(), trafo_table.s_rated_mva.to_numpy(), dt_h)
    line_acc = LoadingAccumulator(line_table.line.to_numpy(), line_table.s_rated_mva.to_numpy(), dt_h)
    n_bus = int(solver.lv_bus_count.sum())
    bus_min = np.full(n_bus, np.inf)
    bus_max = np.full(n_bus, -np.inf)
    bus_violation_steps = np.zeros(n_bus, dtype=np.int64)
    e_mwh = np.zeros((len(wijk_codes), len(CATEGORIES)))
    not_converged: list[str] = []

    run_dir = Path(output_dir or scenario.outputs.directory) / scenario.meta.name
    attrs = {
        "scenario_name": scenario.meta.name,
        "scenario_version": scenario.meta.version,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "energy_sim_version": __version__,
        "time_zone": scenario.horizon.timezone,
        "resolution_min": scenario.horizon.resolution_min,
        "voltage_band_pu": list(g.voltage_band_pu),
        "charging_policy": scenario.policies.charging.value,
        "congestion_manager": (f"on ({', '.join(m.value for m in manager.measures)}; {manager.block_h} h blocks)"
                               if manager.enabled else "off"),
    }
    writer = ResultsWriter(run_dir, attrs)
    starts = range(0, len(time_utc), block_steps)
    # the arrays every block of homes is written into (CityHomesBlock, and the additions of HomePower):
    # valid until the next block, so what outlives the block (the manager's forecast) is copied
    home_blocks: CityHomesBlock | None = None
    # the homes' active power goes to the load flow as the household load plus what heat pumps and EV
    # chargers add, in the homes that have them (HomePower)
    added_columns = {code: np.union1d(homes[code].heat_pump_columns,
                                      ev.home_columns(code) if ev is not None else np.zeros(0, np.int64)
                                      ).astype(np.int64) for code in wijk_codes}
    clock.lap("setup (load flow, assets, events)")
    try:
        for b, i0 in enumerate(tqdm(starts, desc=f"{scenario.meta.name}: load flow", unit="block",
                                    disable=not progress, leave=False)):
            i1 = min(i0 + block_steps, len(time_utc))
            t = time_utc[i0:i1]
            extra, hp_kw, hp_uncapped = {}, {}, {}
            hub_kw = np.zeros((i1 - i0, len(hub_ids)))
            category_mw = np.zeros((i1 - i0, len(wijk_codes), len(CATEGORIES)))
            if home_blocks is None or home_blocks.n_step != i1 - i0:
                home_blocks = CityHomesBlock([homes[code] for code in wijk_codes], i1 - i0)
                # active power as the household load plus additions, reactive power as a ratio of the
                # household load: views of home_blocks' arrays, refilled block after block
                home_p = HomePower.zeros(home_blocks.household_kw, home_blocks.columns, added_columns)
                home_q = HouseholdReactive(home_blocks.household_kw, HOUSEHOLD_Q_PER_P, home_blocks.columns)
            blocks = home_blocks.fill(t, weather.t_amb_degc[i0:i1], pv_per_kwp[i0:i1],
                                      [np.random.default_rng([seed, STREAM_HOUSEHOLD_NOISE, k, b])
                                       for k in range(len(wijk_codes))])
            for a in home_p.added_kw.values():  # this block's additions start from zero
                a.fill(0.0)
            # rooftop PV per kWp per transformer
            pv = PvPerKwp(np.repeat(pv_per_kwp[i0:i1, None], len(trafo_of), axis=1), home_trafo, home_kwp)
            for k, code in enumerate(wijk_codes):
                block = blocks[code]
                home_p.add(code, block.heat_pump_columns, block.heat_pump_kw)
                # hp_flex rebinds hp_kw[code]; hp_uncapped[code] stays what the heat pumps asked for
                hp_kw[code] = hp_uncapped[code] = block.heat_pump_kw
                extra[code] = np.zeros((i1 - i0, len(extra_ids[code])))
                category_mw[:, k, CATEGORIES.index("household")] = block.household_total_kw / 1000.0
                category_mw[:, k, CATEGORIES.index("heat_pump")] = block.heat_pump_total_kw / 1000.0
                category_mw[:, k, CATEGORIES.index("rooftop_pv")] = -block.pv_total_kw / 1000.0
            clock.lap("profiles")
            if ev is not None:
                # the manager's forecast for the next block: this block's load before EVs (and batteries)
                base_p, base_extra = (home_p.copy(), {c: a.copy() for c, a in extra.items()}) if manage \
                    else (None, None)
                ev_block = ev.simulation.step_block(i0 * dt_h * 3600.0, i1 - i0, dt_h * 3600.0)
                ev_kw = ev.add(ev_block.home_kw, ev_block.public_kw, home_p, extra, hub_kw)
                if hp_flex is not None:  # the manager's heat-pump caps for this block, with the rebound
                    hp_group_kw = hp_flex.apply(hp_kw, home_p, ev.simulation.manager)
                    for k, code in enumerate(wijk_codes):
                        category_mw[:, k, CATEGORIES.index("heat_pump")] = hp_kw[code].sum(axis=1) / 1000.0
                if curtail:  # the manager's rooftop-PV caps for this block
                    caps = ev.simulation.manager.pv_caps_kw_per_kwp
                    curtailed_kwh = np.zeros(ev.simulation.manager.n_group)
                    if caps is not None:
                        allowed = np.minimum(pv.kw_per_kwp, caps[:len(t), :len(trafo_of)])
                        curtailed_kwh[:len(trafo_of)] += (pv.kw_per_kwp - allowed).sum(axis=0) * trafo_pv_kwp * dt_h
                        pv = PvPerKwp(allowed, home_trafo, home_kwp)
                        for k, code in enumerate(wijk_codes):
                            mine = trafo_wijk == code
                            category_mw[:, k, CATEGORIES.index("rooftop_pv")] = \
                                -(allowed[:, mine] @ trafo_pv_kwp[mine]) / 1000.0
                    ev.simulation.manager.record_curtailment(curtailed_kwh)
                for k, code in enumerate(wijk_codes):
                    category_mw[:, k, CATEGORIES.index("ev")] = ev_kw[code] / 1000.0
            clock.lap("events and congestion manager")
            gen_mw = mv_power_mw[i0:i1]  # MV solar fields and wind, after the manager's feed-in limits
            if ev is not None and curtail and mv_ids:
                gen_caps = ev.simulation.manager.mv_gen_caps_mw
                if gen_caps is not None:
                    gen_mw = np.minimum(gen_mw, gen_caps)
                ev.simulation.manager.record_mv_curtailment((mv_power_mw[i0:i1] - gen_mw).sum(axis=0) * dt_h * 1000.0)
            for j, (cid, cat) in enumerate(zip(mv_ids, mv_categories)):
                category_mw[:, wijk_codes.index(mv_wijk[cid]), CATEGORIES.index(cat)] -= gen_mw[:, j]
            limits = ev.simulation.manager.battery_limits_kw if ev is not None and dispatch_batteries else None
            battery_limit = None if limits is None else {name: float(limits[gi])
                                                         for name, gi in lv_battery_group.items()}
            mv_load_mw, heat_mw, battery_mw = assets.block(i0, t, weather.t_amb_degc[i0:i1], home_p, pv, extra,
                                                           category_mw.sum(axis=2), hub_kw, battery_limit)
            if limits is not None:  # what the instructed batteries discharged above their limit
                shaved_kwh = np.zeros(ev.simulation.manager.n_group)
                for name, kwh in assets.batteries.shaved_kwh.items():
                    shaved_kwh[lv_battery_group[name]] += kwh
                ev.simulation.manager.record_battery(shaved_kwh)
            category_mw[:, :, CATEGORIES.index("heat_network")] = heat_mw
            category_mw[:, :, CATEGORIES.index("battery")] = battery_mw
            clock.lap("heat networks and batteries")
            grid = _solve_block(solver, outages, i0 * dt_h * 3600.0, dt_h,
                                home_p, home_q, pv, extra, gen_mw, t, mv_load_p_mw=mv_load_mw)
            clock.lap("load flow + metrics")
            if ev is not None and manage:
                if manager.forecast is ManagerForecast.weather and i1 + (i1 - i0) <= len(time_utc):
                    # day-ahead: the next block's heat pumps at a forecast temperature, the rest as today
                    t_next = time_utc[i1:i1 + (i1 - i0)]
                    error_k = np.random.default_rng([seed, STREAM_FORECAST, b + 1]).normal(
                        0.0, manager.forecast_temperature_error_k)
                    t_fc = weather.t_amb_degc[i1:i1 + (i1 - i0)] + error_k
                    for code in wijk_codes:
                        hp_next = homes[code].heat_pumps_kw(t_next, t_fc)
                        base_p.add(code, homes[code].heat_pump_columns, hp_next - hp_uncapped[code])
                        hp_uncapped[code] = hp_next
                    if hp_flex is not None:
                        hp_group_kw = hp_flex.group_sum(hp_uncapped)
                # the forecast's own copy of the household load (home_blocks' is overwritten by the next block)
                base_q = HouseholdReactive(base_p.household_kw, HOUSEHOLD_Q_PER_P, home_blocks.columns)
                ev.simulation.observe((base_p, base_q, pv, base_extra, mv_power_mw[i0:i1],
                                       assets.without_hubs(mv_load_mw) * 1000.0, t),
                                      hp_group_kw if hp_flex is not None else None,
                                      pv_per_kwp[i0:i1] if curtail else None,
                                      mv_power_mw[i0:i1] if curtail else None)

            clock.lap("events and congestion manager")
            trafo_loading = np.hstack([grid.trafo_loading_pct, grid.station_trafo_loading_pct])
            line_loading = np.hstack([grid.feeder_loading_pct, grid.mv_line_loading_pct])
            trafo_acc.add(trafo_loading, t)
            line_acc.add(line_loading, t)
            np.fmin(bus_min, grid.bus_vm_min_pu, out=bus_min)
            np.fmax(bus_max, grid.bus_vm_max_pu, out=bus_max)
            bus_violation_steps += grid.bus_violation_steps
            e_mwh += category_mw.sum(axis=0) * dt_h
            not_converged += grid.not_converged
            clock.lap("load flow + metrics")
            writer.write_block(b, block_dataset(
                t, wijk_codes, trafo_table, line_table, trafo_loading, line_loading,
                grid.wijk_vm_min_pu, grid.wijk_vm_max_pu, category_mw,
            ))
            clock.lap("results")
    except BaseException as exc:
        writer.fail(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (KeyboardInterrupt, RunError)):
            raise
        raise RunError(
            f"the run of {scenario.meta.name!r} stopped at an internal error ({type(exc).__name__}: {exc}); "
            f"the blocks finished so far are in {run_dir}. Please report this with the scenario file."
        ) from exc

    wall_time_s = time.perf_counter() - started
    outage_table = outages.table(time_utc[0], len(time_utc) * dt_h * 3600.0) if outages is not None else None
    horizon = horizon_dataset(
        wijk_codes=wijk_codes,
        wijk_names=[w.name for w in wijken],
        wijk_lon=[w.lon_deg for w in wijken],
        wijk_lat=[w.lat_deg for w in wijken],
        wijk_homes=[len(homes[c].ids) for c in wijk_codes],
        trafo_table=trafo_table, trafo_acc=trafo_acc,
        line_table=line_table, line_acc=line_acc,
        bus_ids=solver.lv_bus_ids, bus_wijk=solver.lv_bus_wijk,
        bus_vm_min_pu=bus_min, bus_vm_max_pu=bus_max, bus_violation_h=bus_violation_steps * dt_h,
        e_mwh=e_mwh,
        ev_report=ev.simulation.report() if ev is not None else None,
        ev_group_wijk=ev.group_wijk if ev is not None else None,
        start_utc=time_utc[0],
        **assets.report(),
        outages=outage_table,
        wijk_not_served_mwh=outages.wijk_not_served_mwh(wijk_codes) if outages is not None else None,
    )
    if outage_table is not None:
        notes.append(outage_note(outage_table))
    if not_converged:
        notes.append(f"{len(not_converged)} load-flow step(s) did not converge (voltage collapse); first: {not_converged[0]}")
    extra_attrs = {
        "wall_time_s": round(wall_time_s, 3),
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "not_converged_steps": len(not_converged),
        "not_converged_detail": "\n".join(not_converged[:200]),
        "notes": "\n".join(notes),
        "stage_time_s": json.dumps(clock.as_dict()),
    }
    stage("writing results")
    results_path = writer.finish(horizon, extra_attrs)
    results = open_results(results_path)
    if OutputFormat.csv in scenario.outputs.formats:
        stage("writing CSV exports")
        export_csv(results, run_dir / "csv")
    summary = summarise(results)
    clock.lap("results")
    return RunOutcome(scenario, run_dir, results_path, summary, time.perf_counter() - started, notes, clock)

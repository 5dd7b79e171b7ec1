"""Outages of grid and generation assets: random failures with repair (simpy) and planned windows.

Each element runs one small process: up for an exponential time (constant
failure rate), then down for a lognormal repair time, then up again. The
result is a table of outage windows per element. `OutageSchedule` joins
those with the planner's named outages (scenario ``outages.planned``) and
says, block by block, what the grid solve needs: which MV/LV transformers
are out, which 10 kV cables are out and whether supply was restored around
them, how much of each MV generator's output is lost. It also keeps the
energy each outage left unserved or unproduced.

Step rule: a cable or transformer is out for a whole step when the outage
covers the step's midpoint (the grid has one topology per step; on average
this neither adds nor drops outage time). Generation is scaled by the
covered fraction of each step (`availability`).

Default rates (`OutageModel` instances below) and their sources:

- MV/LV distribution transformer: failure rate 0.003 per transformer-year
  (ASSUMPTION in the range 0.002-0.005 /yr reported for Dutch distribution
  transformers in Netbeheer Nederland's yearly "Betrouwbaarheid van
  elektriciteitsnetten in Nederland" failure statistics); repair (replacement
  by a mobile unit) median 8 h, log sigma 0.6 (ASSUMPTION).
- Wind turbine: ~2 stops per turbine-year needing repair, median downtime 2 d,
  log sigma 1.0 (ASSUMPTION after the failure-rate and downtime survey of
  Pfaffel, Faulstich & Rohrig, "Performance and Reliability of Wind
  Turbines: A Review", Energies 10(11):1904, 2017: failure rates of
  roughly 0.5-3 /yr and downtimes of days per failure).
- 10 kV cable (cable, joints and terminations): 0.01 failures per km-year
  (ASSUMPTION inside the range EPRI reports for underground distribution
  cable systems, "Failure Rates of Underground Cable Systems", EPRI
  distribution reliability pages: most utilities 0.7-4 failures per 100
  conductor-miles per year, 0.004-0.025 per km-year, median 2.9 per 100
  miles); repair (excavation, new joint) median 24 h, log sigma 0.7
  (ASSUMPTION). Until the operator has isolated the faulted section and
  closed the ring's normally-open switch the substations behind the fault
  are without supply: 1 h (ASSUMPTION: in Dutch open-ring MV grids this is
  manual switching by a field crew; Phase to Phase, "Networks for
  Electricity Distribution", ch. 12 describes the process, and crews
  typically restore by switching within an hour or two).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from energy_sim.events.sessions import HOUR_S

__all__ = ["OutageModel", "MV_LV_TRANSFORMER", "WIND_TURBINE", "MV_CABLE", "MV_CABLE_SWITCHING_H", "simulate_outages",
           "availability", "steps_out", "OutageGrid", "OutageBlock", "OutageSchedule", "schedule_outages", "outage_note"]

YEAR_S = 365.25 * 86_400.0


@dataclass(frozen=True)
class OutageModel:
    """Failure and repair of one kind of element.

    Attributes
    ----------
    failures_per_year : float
        Constant failure rate [1/yr].
    repair_median_h : float
        Median repair time [h].
    repair_sigma : float
        Log standard deviation of the lognormal repair time [-].
    """

    failures_per_year: float
    repair_median_h: float
    repair_sigma: float


MV_LV_TRANSFORMER = OutageModel(failures_per_year=0.003, repair_median_h=8.0, repair_sigma=0.6)
WIND_TURBINE = OutageModel(failures_per_year=2.0, repair_median_h=48.0, repair_sigma=1.0)
#: per km of cable: `simulate_outages` scales the rate by each cable's length
MV_CABLE = OutageModel(failures_per_year=0.01, repair_median_h=24.0, repair_sigma=0.7)
MV_CABLE_SWITCHING_H = 1.0


def element_life(env: simpy.Environment, element: str, model: OutageModel, rng: np.random.Generator,
                 windows: list[tuple[str, float, float]], rate_scale: float = 1.0):
    """One element: run until it fails, be repaired, repeat; append (element, start_s, end_s) per outage."""
    while True:
        yield env.timeout(rng.exponential(YEAR_S / (model.failures_per_year * rate_scale)))
        repair_s = model.repair_median_h * HOUR_S * np.exp(model.repair_sigma * rng.standard_normal())
        windows.append((element, env.now, env.now + repair_s))
        yield env.timeout(repair_s)


def simulate_outages(elements: Sequence[str], model: OutageModel, horizon_s: float,
                     rng: np.random.Generator, rate_scale: Sequence[float] | None = None) -> pd.DataFrame:
    """Outage windows of every element over the horizon.

    Parameters
    ----------
    elements : sequence of str
        Element ids; each gets its own random stream spawned from ``rng`` in
        this order, so adding an element does not change the others.
    model : OutageModel
    horizon_s : float
        Length of the horizon [s].
    rng : numpy.random.Generator
    rate_scale : sequence of float, optional
        Per element, a factor on ``model.failures_per_year`` (e.g. a cable's
        length [km] when the rate is per km); default 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``element``, ``start_s``, ``end_s`` (end may lie past the
        horizon: the repair is still under way), sorted by start.
    """
    env = simpy.Environment()
    windows: list[tuple[str, float, float]] = []
    streams = rng.spawn(len(elements))
    scales = np.ones(len(elements)) if rate_scale is None else np.asarray(rate_scale, dtype=float)
    for element, stream, scale in zip(elements, streams, scales):
        if scale > 0:
            env.process(element_life(env, element, model, stream, windows, float(scale)))
    env.run(until=horizon_s)
    frame = pd.DataFrame(windows, columns=["element", "start_s", "end_s"])
    return frame.sort_values(["start_s", "element"], ignore_index=True)


def availability(windows: pd.DataFrame, elements: Sequence[str], block_start_s: float, n_step: int,
                 dt_s: float) -> np.ndarray:
    """Available fraction of each step for each element [-], ``[n_step, n_element]`` (1 = in service)."""
    t0 = block_start_s + dt_s * np.arange(n_step)
    avail = np.ones((n_step, len(elements)))
    index = {e: j for j, e in enumerate(elements)}
    sel = windows[(windows.end_s > block_start_s) & (windows.start_s < block_start_s + n_step * dt_s)]
    for element, start_s, end_s in sel.itertuples(index=False):
        overlap_s = np.clip(np.minimum(t0 + dt_s, end_s) - np.maximum(t0, start_s), 0.0, dt_s)
        avail[:, index[element]] -= overlap_s / dt_s
    return np.clip(avail, 0.0, 1.0)


def steps_out(start_s: np.ndarray, end_s: np.ndarray, block_start_s: float, n_step: int, dt_s: float) -> np.ndarray:
    """Whether each window covers each step's midpoint, ``[n_step, n_window]`` of bool (see module docstring)."""
    mid = block_start_s + dt_s * (np.arange(n_step) + 0.5)
    return (np.asarray(start_s)[None, :] <= mid[:, None]) & (mid[:, None] < np.asarray(end_s)[None, :])


# --------------------------------------------------------------------------
# a run's outages


@dataclass(frozen=True)
class OutageGrid:
    """The outage-relevant elements of a built city grid, as plain data.

    Attributes
    ----------
    substations : list of str
        MV/LV substation ids in the city solver's order.
    substation_wijk : list of str
    substation_ring : ndarray of int
        MV ring of each substation.
    cables : pandas.DataFrame
        10 kV ring cables: ``line`` (net index), ``name``, ``ring``,
        ``length_km``, ``feeds`` (substation fed in normal operation, "" for
        the cable at the open point), ``wijk``.
    generators : pandas.DataFrame
        MV generators: ``name``, ``kind`` (wind_turbine / solar_field),
        ``wijk``, ``column`` (in the MV power array), ``n_units`` (turbines of the asset; 1 for a field).
    """

    substations: list[str]
    substation_wijk: list[str]
    substation_ring: np.ndarray
    cables: pd.DataFrame
    generators: pd.DataFrame


@dataclass(frozen=True)
class OutageBlock:
    """What the outages do in one block.

    Attributes
    ----------
    active : ndarray [n_step, n_window] of bool
        Which windows (rows of `OutageSchedule.windows`) hold each step.
    lv_out : ndarray [n_step, n_substation] of bool, or None
        MV/LV transformers out; None when none is.
    mv_state : list of (frozenset, frozenset), or None
        Per step: MV cables out (``net.line`` indices) and those the operator
        has restored supply around; None when no cable is out.
    """

    active: np.ndarray
    lv_out: np.ndarray | None
    mv_state: list[tuple[frozenset[int], frozenset[int]]] | None


WINDOW_COLUMNS = ["element", "kind", "wijk", "origin", "name", "start_s", "end_s", "restore_s", "target", "share"]


@dataclass
class OutageSchedule:
    """Every outage window of a run and the energy each one cost.

    Build with `schedule_outages`. ``windows`` has one row per window:
    ``element`` (substation id, cable name, generator name or
    ``<name>/<n>`` for one turbine of an asset), ``kind``, ``wijk``,
    ``origin`` (planned / random), ``name``, ``start_s``, ``end_s``
    (seconds since the horizon start), ``restore_s`` (cables: when supply
    is restored around the cable; inf: never), ``target`` (substation
    position, cable ``net.line`` index or MV power column) and ``share``
    (of the generator's output the window takes out).
    """

    grid: OutageGrid
    windows: pd.DataFrame
    energy_not_served_mwh: np.ndarray = field(init=False)
    production_lost_mwh: np.ndarray = field(init=False)
    substation_not_served_mwh: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.windows = self.windows.reset_index(drop=True)
        n = len(self.windows)
        self.energy_not_served_mwh = np.zeros(n)
        self.production_lost_mwh = np.zeros(n)
        self.substation_not_served_mwh = np.zeros(len(self.grid.substations))
        w = self.windows
        self._trafo = np.flatnonzero((w.kind == "mv_lv_transformer").to_numpy())
        self._cable = np.flatnonzero((w.kind == "mv_cable").to_numpy())
        self._generation = np.flatnonzero(w.kind.isin(["wind_turbine", "solar_field"]).to_numpy())
        ring_of_line = dict(zip(self.grid.cables.line, self.grid.cables.ring))
        self._cable_ring = np.array([ring_of_line[t] for t in w.target.to_numpy()[self._cable]], dtype=np.int64)

    @property
    def changes_topology(self) -> bool:
        """Whether any cable or transformer outage lies in the schedule."""
        return bool(len(self._trafo) or len(self._cable))

    def block(self, block_start_s: float, n_step: int, dt_s: float) -> OutageBlock:
        """The outage state of the block's steps (see `OutageBlock`)."""
        w = self.windows
        active = steps_out(w.start_s.to_numpy(), w.end_s.to_numpy(), block_start_s, n_step, dt_s)
        lv_out = None
        on = self._trafo[active[:, self._trafo].any(axis=0)]
        if len(on):
            lv_out = np.zeros((n_step, len(self.grid.substations)), dtype=bool)
            for j in on:
                lv_out[active[:, j], int(w.target.iat[j])] = True
        mv_state = None
        on = self._cable[active[:, self._cable].any(axis=0)]
        if len(on):
            mid = block_start_s + dt_s * (np.arange(n_step) + 0.5)
            target, restore_s = w.target.to_numpy()[on], w.restore_s.to_numpy()[on]
            mv_state = [(frozenset(int(t) for t in target[active[k, on]]),
                         frozenset(int(t) for t in target[active[k, on] & (mid[k] >= restore_s)]))
                        for k in range(n_step)]
        return OutageBlock(active, lv_out, mv_state)

    def record_unserved(self, block: OutageBlock, unserved_p_mw: np.ndarray | None, dt_h: float) -> None:
        """Add a block's energy not served [MW -> MWh] to the substations and to the outages that caused it.

        A substation-step without supply is owed to its transformer's
        outage if that is out, else to the cable outages active in its
        ring; several at once share it equally.
        """
        if unserved_p_mw is None:
            return
        e_mwh = unserved_p_mw * dt_h  # [n_step, n_sub]
        self.substation_not_served_mwh += e_mwh.sum(axis=0)
        trafo_claims = []
        for j in self._trafo:
            mask = np.zeros(e_mwh.shape, dtype=bool)
            mask[block.active[:, j], int(self.windows.target.iat[j])] = True
            trafo_claims.append((j, mask))
        own = np.zeros(e_mwh.shape, dtype=bool)
        for _, mask in trafo_claims:
            own |= mask
        cable_claims = [(j, block.active[:, j][:, None] & (self.grid.substation_ring == ring)[None, :] & ~own)
                        for j, ring in zip(self._cable, self._cable_ring)]
        claims = trafo_claims + cable_claims
        count = np.zeros(e_mwh.shape, dtype=np.int64)
        for _, mask in claims:
            count += mask
        share = np.divide(e_mwh, count, out=np.zeros_like(e_mwh), where=count > 0)
        for j, mask in claims:
            self.energy_not_served_mwh[j] += share[mask].sum()

    def apply_to_generation(self, power_mw: np.ndarray, dt_s: float) -> np.ndarray:
        """MV generation ``[n_step, n_generator]`` [MW] with the outages' lost output removed (a new array).

        A window takes out ``share`` of its generator's output for the
        covered fraction of each step; outages of one generator add up (at
        most all of it). The lost energy is recorded per window, shared in
        proportion to what each window takes out.
        """
        if not len(self._generation):
            return power_mw
        w = self.windows.iloc[self._generation]
        n_step = power_mw.shape[0]
        ids = [str(i) for i in range(len(w))]
        frac_out = 1.0 - availability(pd.DataFrame({"element": ids, "start_s": w.start_s.to_numpy(),
                                                    "end_s": w.end_s.to_numpy()}), ids, 0.0, n_step, dt_s)
        taken = frac_out * w.share.to_numpy()[None, :]  # [n_step, n_window]
        out = power_mw.copy()
        dt_h = dt_s / 3600.0
        for column in np.unique(w.target.to_numpy()):
            mine = w.target.to_numpy() == column
            total = taken[:, mine].sum(axis=1)
            factor = np.clip(1.0 - total, 0.0, 1.0)
            lost_mw = power_mw[:, column] * (1.0 - factor)
            out[:, column] = power_mw[:, column] * factor
            weight = np.divide(taken[:, mine], total[:, None], out=np.zeros_like(taken[:, mine]),
                               where=total[:, None] > 0)
            self.production_lost_mwh[self._generation[mine]] += (weight * lost_mw[:, None]).sum(axis=0) * dt_h
        return out

    def table(self, start_utc: pd.Timestamp, horizon_s: float) -> pd.DataFrame:
        """The outages that overlap the horizon, for the results: element, kind, wijk, origin, name,
        start_utc, end_utc, energy_not_served_mwh, production_lost_mwh (sorted by start)."""
        w = self.windows.assign(energy_not_served_mwh=self.energy_not_served_mwh,
                                production_lost_mwh=self.production_lost_mwh)
        w = w[(w.end_s > 0) & (w.start_s < horizon_s)]
        # whole seconds: random windows start at any real time; results store seconds
        when = lambda s: start_utc + pd.to_timedelta(np.round(s.to_numpy()), unit="s")  # noqa: E731
        out = w.assign(start_utc=when(w.start_s), end_utc=when(w.end_s))
        return out[["element", "kind", "wijk", "origin", "name", "start_utc", "end_utc", "energy_not_served_mwh",
                    "production_lost_mwh"]].sort_values(["start_utc", "element"], kind="stable", ignore_index=True)

    def wijk_not_served_mwh(self, wijk_codes: Sequence[str]) -> np.ndarray:
        """Energy not served per wijk [MWh]."""
        per = pd.Series(self.substation_not_served_mwh).groupby(np.asarray(self.grid.substation_wijk)).sum()
        return per.reindex(list(wijk_codes), fill_value=0.0).to_numpy()


def outage_note(table: pd.DataFrame) -> str:
    """One line for the run's notes from `OutageSchedule.table`."""
    planned = int((table.origin == "planned").sum())
    return (f"outages applied: {planned} planned, {len(table) - planned} random; energy not served "
            f"{table.energy_not_served_mwh.sum():.3f} MWh, MV production lost {table.production_lost_mwh.sum():.3f} MWh "
            f"(results: outage_*, wijk_energy_not_served_mwh)")


def _seconds_since(moment: dt.datetime, start_utc: pd.Timestamp, timezone: str) -> float:
    t = pd.Timestamp(moment)
    t = t.tz_localize(timezone) if t.tzinfo is None else t
    return (t.tz_convert("UTC") - start_utc).total_seconds()


def _model(default: OutageModel, rates) -> OutageModel:
    """`default` with the scenario's overrides (None keeps the default)."""
    rate = getattr(rates, "failures_per_year", None) or getattr(rates, "failures_per_km_year", None)
    return OutageModel(
        failures_per_year=rate if rate is not None else default.failures_per_year,
        repair_median_h=rates.repair_median_h if rates.repair_median_h is not None else default.repair_median_h,
        repair_sigma=rates.repair_sigma if rates.repair_sigma is not None else default.repair_sigma,
    )


def schedule_outages(outages, grid: OutageGrid, start_utc: pd.Timestamp, horizon_s: float, timezone: str,
                     rng: np.random.Generator) -> OutageSchedule | None:
    """The run's outage windows: the scenario's planned outages plus random ones when enabled.

    Parameters
    ----------
    outages : energy_sim.scenario.schema.Outages
        The scenario's ``outages`` section (references already validated).
    grid : OutageGrid
        The built grid's elements.
    start_utc : pandas.Timestamp
        Horizon start (UTC); times become seconds since it.
    horizon_s : float
        Horizon length [s].
    timezone : str
        Zone of planned times written without an offset.
    rng : numpy.random.Generator
        Random outages: one child stream per kind (transformers, turbines,
        cables, in this order), then one per element; drawn once for the
        whole horizon, so they do not depend on the block length.

    Returns
    -------
    OutageSchedule or None
        None when there is nothing to apply (no planned outages, random
        outages off): the run takes the path without outages.

    Raises
    ------
    KeyError
        A planned outage names an element the built grid does not have
        (validation checks this before the run; this is the engine's guard).
    """
    rows = []
    position = {sub: i for i, sub in enumerate(grid.substations)}
    cable_of = {feeds: (line, name) for line, name, feeds in grid.cables[["line", "name", "feeds"]].itertuples(index=False)
                if feeds}
    generator = grid.generators.set_index("name")
    for i, o in enumerate(outages.planned):
        kind = str(o.kind.value if hasattr(o.kind, "value") else o.kind)
        start_s = _seconds_since(o.start, start_utc, timezone)
        end_s = _seconds_since(o.end, start_utc, timezone)
        name = o.name or f"{kind} {o.element}"
        if kind == "mv_lv_transformer":
            rows.append((o.element, kind, grid.substation_wijk[position[o.element]], "planned", name, start_s, end_s,
                         np.inf, position[o.element], 1.0))
        elif kind == "mv_cable":
            line, cable = cable_of[o.element]
            restore_s = start_s if o.restore is None or o.restore else np.inf
            rows.append((cable, kind, grid.substation_wijk[position[o.element]], "planned", name, start_s, end_s,
                         restore_s, line, 1.0))
        else:
            g = generator.loc[o.element]
            rows.append((o.element, kind, g.wijk, "planned", name, start_s, end_s, np.inf, int(g.column), 1.0))
    random = outages.random
    if random.enabled:
        streams = rng.spawn(3)
        if random.mv_lv_transformer.enabled and grid.substations:
            model = _model(MV_LV_TRANSFORMER, random.mv_lv_transformer)
            for e, s0, s1 in simulate_outages(grid.substations, model, horizon_s, streams[0]).itertuples(index=False):
                rows.append((e, "mv_lv_transformer", grid.substation_wijk[position[e]], "random", "", s0, s1, np.inf,
                             position[e], 1.0))
        turbines = grid.generators[grid.generators.kind == "wind_turbine"]
        if random.wind_turbine.enabled and len(turbines):
            model = _model(WIND_TURBINE, random.wind_turbine)
            units = {f"{t.name}/{k + 1}": t for t in turbines.itertuples() for k in range(int(t.n_units))}
            for e, s0, s1 in simulate_outages(list(units), model, horizon_s, streams[1]).itertuples(index=False):
                t = units[e]
                rows.append((e, "wind_turbine", t.wijk, "random", "", s0, s1, np.inf, int(t.column), 1.0 / t.n_units))
        if random.mv_cable.enabled and len(grid.cables):
            model = _model(MV_CABLE, random.mv_cable)
            switching_h = random.mv_cable.switching_h
            switching_s = (MV_CABLE_SWITCHING_H if switching_h is None else switching_h) * HOUR_S
            cables = grid.cables.set_index("name")
            drawn = simulate_outages(cables.index.tolist(), model, horizon_s, streams[2],
                                     rate_scale=cables.length_km.to_numpy())
            for e, s0, s1 in drawn.itertuples(index=False):
                c = cables.loc[e]
                rows.append((e, "mv_cable", c.wijk, "random", "", s0, s1, s0 + switching_s, int(c.line), 1.0))
    if not rows:
        return None
    windows = pd.DataFrame(rows, columns=WINDOW_COLUMNS).astype({"target": np.int64})
    return OutageSchedule(grid, windows.sort_values(["start_s", "element"], kind="stable", ignore_index=True))

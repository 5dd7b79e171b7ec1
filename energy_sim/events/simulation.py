"""The events layer as the engine sees it: one object kept across blocks.

`EvSimulation` owns the simpy environment (public, workplace and fast
charger parks, the congestion manager), the vectorised home and bus-depot
session draws and the
`ChargingState` that carries sessions over block boundaries. Per block the
engine calls `EvSimulation.step_block` and gets power arrays; after its load
flow it calls `EvSimulation.observe` with what the congestion manager may use
to plan the next block. `EvSimulation.report` gives the horizon's figures.

Columns: home EVs ``0 .. n_home_ev-1``, then the charge points of the parks
in their order, then the depot chargers of the bus depots in theirs;
`EvBlock` splits home EVs from the rest ("points").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import simpy

from energy_sim.events.charging import ChargingPolicy, ChargingState
from energy_sim.events.congestion import CongestionManager, Solve, manager_process
from energy_sim.events.fleet import Fleet, load_ev_fleet
from energy_sim.events.public import DEFAULT_PATIENCE_S, ChargerPark, park_arrivals
from energy_sim.events.sessions import (
    HOME,
    PROFILES,
    DepotTimetable,
    SessionKind,
    SessionProfile,
    Sessions,
    draw_depot_day,
    draw_home_day,
)

__all__ = ["ParkSpec", "DepotSpec", "EvBlock", "EvReport", "EvSimulation", "local_day_starts_s",
           "DEFAULT_HOME_CHARGER_KW", "FAST_PATIENCE_S"]

#: Home charger power [kW]: 3 x 16 A at 230 V, the common Dutch home wallbox
#: (ASSUMPTION; 1-phase cars are limited by their on-board charger, ev_fleet.yaml).
DEFAULT_HOME_CHARGER_KW = 11.0

#: How long a driver waits at a full fast-charging plaza [s]. ASSUMPTION:
#: 10 minutes, shorter than at AC points because the next plaza is close.
FAST_PATIENCE_S = 600.0


def local_day_starts_s(start_utc: pd.Timestamp, end_utc: pd.Timestamp, timezone: str = "Europe/Amsterdam") -> np.ndarray:
    """Every local midnight from the one on or before ``start_utc`` to before ``end_utc`` [s since start_utc]."""
    start_utc = pd.Timestamp(start_utc)
    start_utc = start_utc.tz_localize("UTC") if start_utc.tzinfo is None else start_utc.tz_convert("UTC")
    end_utc = pd.Timestamp(end_utc)
    end_utc = end_utc.tz_localize("UTC") if end_utc.tzinfo is None else end_utc.tz_convert("UTC")
    first = start_utc.tz_convert(timezone).normalize()
    days = pd.date_range(first, end_utc.tz_convert(timezone), freq="D", inclusive="left")
    return ((days.tz_convert("UTC") - start_utc) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


@dataclass(frozen=True)
class ParkSpec:
    """A public or workplace charger park.

    Attributes
    ----------
    name : str
    group : int
        Cap/report group (e.g. transformer index).
    n_point : int
        Charge points [-].
    p_kw : float
        Power per point [kW].
    kind : SessionKind
        ``public``, ``workplace`` or ``fast`` (arrival pattern; fast points
        charge DC, see `energy_sim.events.public.ChargerPark`).
    """

    name: str
    group: int
    n_point: int
    p_kw: float = 11.0
    kind: SessionKind = SessionKind.public

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SessionKind(self.kind))
        if self.kind not in (SessionKind.public, SessionKind.workplace, SessionKind.fast) or self.n_point < 1 \
                or self.p_kw <= 0:
            raise ValueError(f"charger park {self.name!r} needs kind public, workplace or fast, n_point >= 1 and "
                             f"p_kw > 0 (got {self.kind}, {self.n_point}, {self.p_kw}); bus depots are DepotSpec")


@dataclass(frozen=True)
class DepotSpec:
    """An electric bus depot: one charger per bus, charging overnight on a timetable.

    Attributes
    ----------
    name : str
    group : int
        Cap/report group.
    n_bus : int
        Buses, one depot charger each [-].
    p_kw : float
        Power per depot charger [kW].
    timetable : DepotTimetable
    """

    name: str
    group: int
    n_bus: int
    p_kw: float = 150.0
    timetable: DepotTimetable = DepotTimetable()

    def __post_init__(self) -> None:
        if self.n_bus < 1 or self.p_kw <= 0:
            raise ValueError(f"bus depot {self.name!r} needs n_bus >= 1 and p_kw > 0 (got {self.n_bus}, {self.p_kw})")


@dataclass
class EvBlock:
    """EV charging power of one block.

    Attributes
    ----------
    home_kw : ndarray [n_step, n_home_ev]
    public_kw : ndarray [n_step, n_point]
        Power per home EV / per charge point of the parks and depots (in the
        simulation's column order) [kW], mean over each step.
    caps_kw : ndarray [n_step, n_group] or None
        The caps the congestion manager set for this block [kW] (inf: none).
    """

    home_kw: np.ndarray
    public_kw: np.ndarray
    caps_kw: np.ndarray | None = None


@dataclass
class EvReport:
    """Horizon figures of the events layer.

    Attributes
    ----------
    energy_by_group : pandas.DataFrame
        Per group: ``requested_kwh``, ``delivered_kwh``, ``undelivered_kwh``, ``sessions``
        (finished sessions, home and public together).
    queues : pandas.DataFrame
        Per park: ``arrived``, ``served``, ``balked``, ``mean_wait_s``, ``max_wait_s``.
    interventions : pandas.DataFrame
        The congestion manager's log (`energy_sim.events.congestion.Intervention`).
    home_sessions, public_sessions, depot_sessions : int
        Sessions started at home, at parks (public, workplace, fast) and at bus depots [-].
    simpy_events : int
        Events simpy processed [-].
    """

    energy_by_group: pd.DataFrame
    queues: pd.DataFrame
    interventions: pd.DataFrame
    home_sessions: int
    public_sessions: int
    simpy_events: int = 0
    depot_sessions: int = 0


class _CountingEnvironment(simpy.Environment):
    """A simpy Environment that counts the events it processes (for the benchmark figure)."""

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        self.n_events = 0

    def step(self) -> None:
        self.n_events += 1
        super().step()


class EvSimulation:
    """EV charging of a city (or one grid) over the horizon, block by block.

    Parameters
    ----------
    day_start_s : ndarray
        Local midnights of the horizon [s since scenario start]
        (`local_day_starts_s`).
    home_group : ndarray of int [n_home_ev]
        Group of each home EV (e.g. index of its MV/LV transformer).
    parks : sequence of ParkSpec
        Public, workplace and fast charger parks; points get columns in this order.
    group_names : sequence of str [n_group]
        Name of each group (transformer id), for reports and the log.
    rng : numpy.random.Generator
        Spawns independent streams: home vehicles, home sessions, public and workplace arrivals.
    policy : ChargingPolicy or str
    fleet : Fleet, optional
        Vehicle mix; default ``models/ev_fleet.yaml``.
    home_charger_kw : float
        Home charge point power [kW].
    patience_s : float
        Longest wait at a full park [s].
    off_peak_start_h, off_peak_end_h : float
        Off-peak window for the ``off_peak`` policy [h, local].
    off_peak_spread_h : float
        Cars waiting for the window start spread over this long after it
        opens [h] (`energy_sim.events.charging.effective_start_s`).
    depots : sequence of DepotSpec
        Bus depots; their chargers get columns after the parks' points.
    day_factor : dict of SessionKind to ndarray [n_day], optional
        Sessions per point on each local day relative to the profile's rate
        (e.g. workplace parks at weekends); default 1.
    solve, element_group : optional
        Enable the congestion manager: the engine's ``solve(forecast, ev_kw)
        -> loading_pct[n_step, n_element]`` and the group of each element.
    block_s : float
        Control block length [s] (for the manager's wake-ups).
    n_step_block, dt_s : int, float
        Steps per block and step length [s] (for the manager).
    target_loading_pct : float
        Manager's loading limit [%].
    shared_elements, group_measure, measures, heat_pump_groups, pv_groups, battery_limit_kw, mv_generator_names, mv_elements : optional
        Passed to `energy_sim.events.congestion.CongestionManager`.
    home_profile : SessionProfile
    keep_finished : bool
        Keep every finished session (tests).
    """

    def __init__(self, day_start_s: np.ndarray, home_group, parks: Sequence[ParkSpec], group_names: Sequence[str],
                 rng: np.random.Generator, *, policy: ChargingPolicy | str = ChargingPolicy.uncontrolled,
                 fleet: Fleet | None = None, home_charger_kw: float = DEFAULT_HOME_CHARGER_KW,
                 patience_s: float = DEFAULT_PATIENCE_S, off_peak_start_h: float = 23.0, off_peak_end_h: float = 7.0,
                 off_peak_spread_h: float = 2.0, depots: Sequence[DepotSpec] = (), day_factor: dict | None = None,
                 solve: Solve | None = None, element_group=None, block_s: float = 86_400.0,
                 n_step_block: int = 96, dt_s: float = 900.0, target_loading_pct: float = 100.0,
                 shared_elements=None, group_measure=None, measures=None, heat_pump_groups=None, pv_groups=None,
                 battery_limit_kw=None, mv_generator_names=(), mv_elements=(),
                 home_profile: SessionProfile = HOME, keep_finished: bool = False):
        fleet = fleet or load_ev_fleet()
        self.day_start_s = np.asarray(day_start_s, dtype=float)
        self.home_group = np.asarray(home_group, dtype=np.int64)
        self.parks_spec = list(parks)
        self.group_names = list(group_names)
        self.n_home = len(self.home_group)
        self.depots = list(depots)
        self.n_point = sum(p.n_point for p in self.parks_spec) + sum(d.n_bus for d in self.depots)
        self.home_profile = home_profile
        # spawned in a fixed order: adding depots or fast parks leaves the other streams as they were
        vehicle_rng, self._home_rng, park_rng, depot_rng = rng.spawn(4)
        self._depot_rngs = depot_rng.spawn(len(self.depots)) if self.depots else []
        self.home_battery_kwh, on_board_kw = fleet.draw(self.n_home, vehicle_rng)
        self.home_p_max_kw = np.minimum(on_board_kw, home_charger_kw)
        self._busy_until_s = np.full(self.n_home, -np.inf)
        self._next_day = 0
        group_of_column = np.concatenate([
            self.home_group,
            np.repeat([p.group for p in self.parks_spec], [p.n_point for p in self.parks_spec]),
            np.repeat([d.group for d in self.depots], [d.n_bus for d in self.depots]),
        ])
        self.state = ChargingState(group_of_column.astype(np.int64), len(self.group_names), policy,
                                   self.day_start_s, off_peak_start_h, off_peak_end_h, keep_finished,
                                   off_peak_spread_h)
        self.env = _CountingEnvironment()
        self.parks: list[ChargerPark] = []
        first = self.n_home
        for spec in self.parks_spec:
            fast = spec.kind == SessionKind.fast
            self.parks.append(ChargerPark(self.env, spec.name, first, spec.n_point, spec.p_kw,
                                          FAST_PATIENCE_S if fast else patience_s, dc=fast))
            first += spec.n_point
        self._depot_first_column = first + np.cumsum([0] + [d.n_bus for d in self.depots])[:-1]
        # one arrival process (and random stream) per kind of park, in SessionKind order
        day_factor = day_factor or {}
        for kind, stream in zip((SessionKind.public, SessionKind.workplace, SessionKind.fast), park_rng.spawn(3)):
            parks = [park for park, spec in zip(self.parks, self.parks_spec) if spec.kind == kind]
            if parks:
                self.env.process(park_arrivals(self.env, parks, self.day_start_s, stream, fleet, PROFILES[kind],
                                               day_factor.get(kind)))
        self.manager = None
        if solve is not None:
            self.manager = CongestionManager(solve, element_group, group_of_column, self.group_names, n_step_block,
                                             dt_s, target_loading_pct, shared_elements=shared_elements,
                                             group_measure=group_measure, measures=measures,
                                             heat_pump_groups=heat_pump_groups, pv_groups=pv_groups,
                                             battery_limit_kw=battery_limit_kw,
                                             mv_generator_names=mv_generator_names,
                                             mv_elements=mv_elements)
            self.env.process(manager_process(self.env, self.manager, block_s))
        self.home_sessions = 0
        self.public_sessions = 0
        self.depot_sessions = 0
        self._last_unmanaged: np.ndarray | None = None

    def _draw_days_until(self, end_s: float) -> tuple[Sessions, Sessions]:
        """Home and depot sessions of the local days starting before ``end_s`` not drawn yet."""
        home, depot = [], []
        while self._next_day < len(self.day_start_s) and self.day_start_s[self._next_day] < end_s:
            day0 = self.day_start_s[self._next_day]
            home.append(draw_home_day(day0, self._busy_until_s, self.home_battery_kwh, self.home_p_max_kw,
                                      self._home_rng, self.home_profile))
            for spec, first, rng in zip(self.depots, self._depot_first_column, self._depot_rngs):
                day = draw_depot_day(day0, spec.n_bus, spec.p_kw, rng, spec.timetable)
                day.column += first
                depot.append(day)
            self._next_day += 1
        return Sessions.concat(home), Sessions.concat(depot)

    def step_block(self, block_start_s: float, n_step: int, dt_s: float, caps_kw: np.ndarray | None = None) -> EvBlock:
        """Advance the events to the end of the block and return its charging power.

        Parameters
        ----------
        block_start_s : float
            Start of the block [s since scenario start]; blocks must follow each other.
        n_step : int
            Steps in the block [-].
        dt_s : float
            Step length [s].
        caps_kw : ndarray [n_step, n_group], optional
            Caps imposed by the caller (e.g. flexible-connection limits) [kW];
            by default the congestion manager's, if there is one.
        """
        if block_start_s < self.env.now:
            raise ValueError(f"EV block starting at {block_start_s} s lies before the events clock ({self.env.now} s); "
                             f"call step_block once per block, in time order")
        block_end_s = block_start_s + n_step * dt_s
        home, depot = self._draw_days_until(block_end_s)
        self.state.add(home)
        self.state.add(depot)
        self.home_sessions += len(home)
        self.depot_sessions += len(depot)
        self.env.run(until=block_end_s)
        public = Sessions.concat([park.take_started() for park in self.parks])
        self.state.add(public)
        self.public_sessions += len(public)
        caps = caps_kw
        if caps is None and self.manager is not None and self.manager.caps_kw is not None:
            caps = self.manager.caps_kw
            caps = caps[:n_step] if len(caps) >= n_step else np.vstack([caps, np.repeat(caps[-1:], n_step - len(caps), 0)])
        result = self.state.run_block(block_start_s, n_step, dt_s, caps, unmanaged=self.manager is not None)
        if self.manager is not None:
            self.manager.record_block(result.p_kw, result.p_unmanaged_kw)
            self._last_unmanaged = result.p_unmanaged_kw
        return EvBlock(result.p_kw[:, :self.n_home], result.p_kw[:, self.n_home:], caps)

    def observe(self, forecast: Any, hp_group_kw: np.ndarray | None = None,
                pv_kw_per_kwp: np.ndarray | None = None, mv_gen_mw: np.ndarray | None = None) -> None:
        """Tell the congestion manager what it may use to plan the next block.

        ``forecast`` is passed unchanged as the first argument of ``solve``;
        it should hold the block that just ended (e.g. its base load per bus).
        The uncapped EV power of that block is added here; ``hp_group_kw``
        ``[n_step, n_group]`` is that block's heat-pump power per group
        before any cap (for heat-pump flexibility); ``pv_kw_per_kwp``
        ``[n_step]`` the rooftop PV available per kWp and ``mv_gen_mw``
        ``[n_step, n_generator]`` the MV generators' available output [MW]
        (for curtailment).
        """
        if self.manager is not None and self._last_unmanaged is not None:
            self.manager.observe(forecast, self._last_unmanaged, hp_group_kw, pv_kw_per_kwp, mv_gen_mw)

    def report(self) -> EvReport:
        """Figures of the sessions finished so far, queues and interventions."""
        energy = pd.DataFrame(self.state.totals(), index=pd.Index(self.group_names, name="group"))
        queues = pd.DataFrame(
            [{"park": p.name, "arrived": p.stats.arrived, "served": p.stats.served, "balked": p.stats.balked,
              "mean_wait_s": p.stats.mean_wait_s, "max_wait_s": max(p.stats.wait_served_s, default=0.0)}
             for p in self.parks],
            columns=["park", "arrived", "served", "balked", "mean_wait_s", "max_wait_s"],
        ).set_index("park")
        interventions = self.manager.log_frame() if self.manager is not None else pd.DataFrame()
        return EvReport(energy, queues, interventions, self.home_sessions, self.public_sessions, self.env.n_events,
                        self.depot_sessions)

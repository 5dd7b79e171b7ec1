"""The events layer placed on a city's grid: which power column goes to which element.

`build_ev_wiring` turns a scenario's EV adoption and charger parks into one
`EvSimulation` for the city, and remembers where each of its power columns
belongs:

- home EVs: the home's own column in its wijk's per-home arrays (LV);
- public and workplace points: their own LV connection (the wijk's "extra"
  columns), one charging location per LV grid, so cars queue at the points
  of their own streets;
- fast-charging plazas and bus depots: one MV connection each (a charging
  hub; see `energy_sim.grid.build.ConnectionKind.charging_hub`), in the
  column order of `mv_charging_hub_ids`.

Report groups are the MV/LV transformers (in `CitySolver.lv_trafo_ids`
order) followed by one group per charging hub; `EvWiring.group_wijk` gives
each group's wijk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_sim.events.simulation import DepotSpec, EvSimulation, ParkSpec, local_day_starts_s
from energy_sim.events.sessions import SessionKind
from energy_sim.scenario.schema import Measure

if TYPE_CHECKING:
    from energy_sim.grid.simulate import HomePower

__all__ = ["EvWiring", "build_ev_wiring", "home_transformers", "mv_charging_hub_ids", "WORKPLACE_WEEKEND_FACTOR"]

#: Workplace sessions on Saturdays and Sundays relative to a weekday [-].
#: ASSUMPTION: offices and plants largely closed; shift work and weekend
#: staff keep ~20 % of the weekday sessions.
WORKPLACE_WEEKEND_FACTOR = 0.2

_MV_KINDS = ("fast", "bus_depot")


def home_transformers(city, wijk_codes, lv_trafo_ids: list[str]) -> dict[str, np.ndarray]:
    """Per wijk, the MV/LV transformer (position in `lv_trafo_ids`) of each home, in the homes' column order."""
    trafo_of = {name: i for i, name in enumerate(lv_trafo_ids)}
    return {code: np.concatenate([np.full(int((g.connections.kind == "household").sum()), trafo_of[g.name])
                                  for g in city.lv_grids[code]]) for code in wijk_codes}


def mv_charging_hub_ids(scenario, wijk_codes) -> list[str]:
    """Charger parks on the MV network (fast plazas, bus depots) in the simulated wijken, in file order."""
    return [p.name for p in scenario.assets.ev_chargers if p.kind in _MV_KINDS and p.wijk in wijk_codes]


@dataclass
class EvWiring:
    """Where the EV layer's power columns go in the engine's arrays.

    Attributes
    ----------
    simulation : EvSimulation
    home_slices : dict
        Per wijk: (first, last) column of its home EVs in the EV layer's
        home array, and the home columns they belong to.
    point_targets : list of (str, str, int)
        Per non-home column of the EV layer, in its order: ``("lv", wijk,
        extra column)`` or ``("mv", wijk, column in mv_charging_hub_ids)``.
    group_wijk : list of str
        Wijk of each report group.
    """

    simulation: EvSimulation
    home_slices: dict[str, tuple[int, int, np.ndarray]]
    point_targets: list[tuple[str, str, int]]
    group_wijk: list[str]

    def add(self, home_kw: np.ndarray, point_kw: np.ndarray, home_p: HomePower,
            extra: dict[str, np.ndarray], mv_load_kw: np.ndarray) -> dict[str, np.ndarray]:
        """Add a block's EV power [kW] into the arrays; return EV power per wijk [kW] (``[n_step]``).

        Parameters
        ----------
        home_kw, point_kw : ndarray [n_step, n_home_ev], [n_step, n_point]
            Power per home EV and per other charge point (`EvBlock`).
        home_p : HomePower
            The homes' active power, added to in place [kW] (the EV homes are
            among its ``added_columns``: `home_columns`).
        extra : dict wijk -> ndarray
            Extra-LV-connection power arrays, added to in place [kW].
        mv_load_kw : ndarray [n_step, n_hub]
            Power of the MV charging hubs, added to in place [kW].
        """
        per_wijk = {code: np.zeros(home_kw.shape[0]) for code in home_p}
        for code, (first, last, columns) in self.home_slices.items():
            home_p.add(code, columns, home_kw[:, first:last])
            per_wijk[code] += home_kw[:, first:last].sum(axis=1)
        for j, (level, code, column) in enumerate(self.point_targets):
            (extra[code] if level == "lv" else mv_load_kw)[:, column] += point_kw[:, j]
            per_wijk[code] += point_kw[:, j]
        return per_wijk

    def home_columns(self, code: str) -> np.ndarray:
        """The homes of wijk `code` with an EV (int64 columns of its per-home arrays)."""
        return np.asarray(self.home_slices[code][2], np.int64) if code in self.home_slices else np.zeros(0, np.int64)


def _workplace_day_factor(day_start_s: np.ndarray, start_utc: pd.Timestamp, timezone: str) -> np.ndarray:
    local = (pd.Timestamp(start_utc) + pd.to_timedelta(day_start_s, unit="s")).tz_convert(timezone)
    return np.where(local.dayofweek >= 5, WORKPLACE_WEEKEND_FACTOR, 1.0)


def build_ev_wiring(scenario, city, wijken, home_ids: dict[str, list[str]], extra_ids: dict[str, list[str]],
                    lv_trafo_ids: list[str], lv_trafo_wijk: list[str], time_utc: pd.DatetimeIndex, block_steps: int,
                    rng_ev: np.random.Generator, rng_adoption_of_wijk, solve=None,
                    element_group=None, mv_elements=(), heat_pump_groups=None, pv_groups=None,
                    battery_limit_kw=None, mv_generator_names=()) -> EvWiring | None:
    """The city's EV layer: EV homes per wijk, public/workplace parks on their LV grids, hubs on MV.

    Parameters
    ----------
    scenario : Scenario
    city : CityGrid
    wijken : list of Wijk
        The simulated wijken, in result order.
    home_ids, extra_ids : dict wijk -> list of str
        Household and extra LV connection ids in the engine's column order.
    lv_trafo_ids, lv_trafo_wijk : list of str
        MV/LV transformers (report groups) and their wijken.
    time_utc : DatetimeIndex
        The horizon's steps.
    block_steps : int
        Steps per control block.
    rng_ev : numpy.random.Generator
        The events' stream.
    rng_adoption_of_wijk : callable
        ``k -> Generator`` choosing the EV homes of wijk number ``k``.
    solve, element_group : optional
        The congestion manager's load flow and the group of each element it
        reports (`EvSimulation`): MV/LV transformers and feeder heads belong
        to their transformer's group (measure ``smart_charging``).
    mv_elements : sequence of int
        Positions of the MV elements (HV/MV station, MV cables) in what
        ``solve`` reports; they belong to every charging hub's group
        (measure ``flexible_connections``).
    heat_pump_groups : ndarray of bool [n_lv_trafo], optional
        Transformers with heat pumps the manager may cap (measure
        ``heat_pump_flexibility``); ``solve`` then takes a third argument.
    pv_groups : ndarray of bool [n_lv_trafo], optional
        Transformers with rooftop PV the manager may curtail (measure
        ``curtailment``); ``solve`` then takes a fourth argument.
    battery_limit_kw : ndarray of float [n_lv_trafo], optional
        Per transformer with an LV battery, the net load that keeps it at the
        manager's target [kW] (nan: no battery; measure ``battery_dispatch``).
    mv_generator_names : sequence of str
        MV solar fields and wind turbines the manager may curtail when MV
        elements are overloaded by feed-in (measure ``curtailment``); ``solve``
        then takes a fifth argument, their output [MW].

    Returns
    -------
    EvWiring or None
        None when the scenario has no EV and no charger in the simulated wijken.
    """
    trafo_of = {name: i for i, name in enumerate(lv_trafo_ids)}
    codes = [w.code for w in wijken]
    trafo_of_home = home_transformers(city, codes, lv_trafo_ids)
    home_group, home_slices, first = [], {}, 0
    for k, w in enumerate(wijken):
        grid_of_home = trafo_of_home[w.code]
        n = len(home_ids[w.code])
        columns = np.sort(rng_adoption_of_wijk(k).permutation(n)[: int(round(w.adoption.ev_frac * n))])
        home_group.append(grid_of_home[columns])
        home_slices[w.code] = (first, first + len(columns), columns)
        first += len(columns)
    group_wijk = list(lv_trafo_wijk)
    group_names = list(lv_trafo_ids)
    parks, depots, park_targets, depot_targets = [], [], [], []
    hub_column = {name: j for j, name in enumerate(mv_charging_hub_ids(scenario, codes))}
    for park in scenario.assets.ev_chargers:
        if park.wijk not in codes:
            continue
        if park.kind in _MV_KINDS:
            group = len(group_names)
            group_names.append(park.name)
            group_wijk.append(park.wijk)
            if park.kind == "fast":
                parks.append(ParkSpec(park.name, group, park.count, park.p_kw, SessionKind.fast))
                park_targets += [("mv", park.wijk, hub_column[park.name])] * park.count
            else:
                depots.append(DepotSpec(park.name, group, park.count, park.p_kw))
                depot_targets += [("mv", park.wijk, hub_column[park.name])] * park.count
            continue
        column_of = {cid: i for i, cid in enumerate(extra_ids[park.wijk])}
        for grid in city.lv_grids[park.wijk]:
            ids = grid.connections.connection_id
            mine = [column_of[cid] for cid in ids[ids.str.startswith(f"{park.name}/")]]
            if mine:
                parks.append(ParkSpec(f"{park.name} @ {grid.name}", trafo_of[grid.name], len(mine), park.p_kw,
                                      park.kind.value))
                park_targets += [("lv", park.wijk, c) for c in mine]
    home_group = np.concatenate(home_group) if home_group else np.zeros(0, dtype=int)
    if len(home_group) == 0 and not parks and not depots:
        return None
    dt_s = scenario.horizon.resolution_min * 60.0
    day_start_s = local_day_starts_s(time_utc[0], time_utc[-1] + pd.Timedelta(seconds=dt_s), scenario.horizon.timezone)
    n_lv = len(lv_trafo_ids)
    hub_groups = np.arange(n_lv, len(group_names))
    mv_elements = np.asarray(mv_elements, dtype=np.int64)
    manager = scenario.policies.congestion_manager
    simulation = EvSimulation(
        day_start_s, home_group, parks, group_names, rng_ev,
        policy=scenario.policies.charging, depots=depots,
        day_factor={SessionKind.workplace: _workplace_day_factor(day_start_s, time_utc[0], scenario.horizon.timezone)},
        solve=solve, element_group=element_group, block_s=block_steps * dt_s, n_step_block=block_steps, dt_s=dt_s,
        shared_elements=(np.tile(mv_elements, len(hub_groups)), np.repeat(hub_groups, len(mv_elements))),
        group_measure=[Measure.smart_charging] * n_lv + [Measure.flexible_connections] * len(hub_groups),
        measures=manager.measures, target_loading_pct=manager.target_loading_pct,
        heat_pump_groups=None if heat_pump_groups is None else
        np.concatenate([heat_pump_groups, np.zeros(len(hub_groups), dtype=bool)]),
        pv_groups=None if pv_groups is None else np.concatenate([pv_groups, np.zeros(len(hub_groups), dtype=bool)]),
        battery_limit_kw=None if battery_limit_kw is None else
        np.concatenate([battery_limit_kw, np.full(len(hub_groups), np.nan)]),
        mv_generator_names=mv_generator_names, mv_elements=mv_elements,
    )
    return EvWiring(simulation, home_slices, park_targets + depot_targets, group_wijk)

"""The congestion manager: a simpy process that caps charging power per group.

DESIGN.md decision 2: the manager wakes once per control block (default one
day) and decides the caps for the block that starts, from what it knew at
the end of the previous one, like Dutch day-ahead capacity limits. It never
sees the block it plans for: its forecast is the last block the engine
reported through `CongestionManager.observe` (persistence: base load and the
EV demand as it would have been without caps, step by step, one block
earlier).

Groups and measures. A group is a set of charge points the manager can cap
together, with the grid elements they load: the EVs under one MV/LV
transformer (its transformer and feeder heads; measure ``smart_charging``),
or one large MV user on a non-firm connection agreement - a fast-charging
plaza or a bus depot (the HV/MV station and MV cables; measure
``flexible_connections``, as Dutch grid operators offer with time-bound or
capacity-limited transport rights). An element may belong to several groups
(the station serves every MV user); each group is capped only by a measure
the scenario enables.

Decision, per group:

1. Solve the forecast block without EVs and with the forecast EV demand
   (``solve`` is the engine's batched load flow). If no element of the group
   exceeds ``target_loading_pct`` anywhere in the block, no cap.
2. Otherwise measure the loading added per kW of group EV power (one probe
   solve), set the cap so that the forecast loading stays at the target at
   every step of the block, and refine it with secant corrections (loading is
   nearly linear in the EV power of a group). The cap holds all block long, so
   the energy held back at the peak does not rebound into a new one.
3. Smart charging (`energy_sim.events.charging`) then delivers EV energy as
   early as the cap allows, i.e. later within each car's dwell time.

After the charging caps, two more measures act on the MV/LV transformer
groups if the scenario lists them: heat-pump flexibility (caps on the group's
heat pumps where the plan still exceeds the target, with the rebound after;
`energy_sim.events.heat_pump_flex`) and rooftop-PV curtailment (a feed-in
limit per kWp for the block where the sunniest recent day would push the
transformer over its rating in reverse; see `_curtailment_caps`). Last,
battery dispatch: where the plan still exceeds the target on a transformer
with a battery on its LV grid, the battery is instructed to hold the grid's
net load to the transformer's limit for the block (see `_battery_limits`).
With ``curtailment`` and MV generators (solar fields, wind turbines), the
HV/MV station and MV cables are checked for feed-in overload too: each
generator gets a feed-in limit [MW] for the block (`_mv_generation_caps`).

A group whose cap would not bind (its forecast power never reaches the
cap, e.g. a plaza far from an overloaded MV cable) is left alone. Every
intervention is logged (time, group, measure, window, forecast loading,
energy shifted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import simpy

from energy_sim.events.sessions import HOUR_S
from energy_sim.scenario.schema import Measure

__all__ = ["CongestionManager", "Intervention", "manager_process", "PV_ENVELOPE_BLOCKS"]

#: Blocks of observed rooftop PV the curtailment forecast takes its envelope over [-]
#: (ASSUMPTION: a week of daily blocks holds a clear day in most seasons).
PV_ENVELOPE_BLOCKS = 7


@dataclass
class Intervention:
    """One decision of the congestion manager.

    Attributes
    ----------
    time_s : float
        When it was decided (start of the block it applies to) [s].
    element : str
        Group it caps (e.g. transformer id).
    measure : Measure
    window_start_s, window_end_s : float
        Period the cap applies to [s].
    forecast_loading_pct : float
        Highest forecast loading of the group's elements without the measure [%].
    planned_loading_pct : float
        Highest forecast loading with the cap [%].
    cap_min_kw : float
        Lowest cap in the window [kW].
    energy_shifted_kwh : float
        Energy the measure took off while its cap bit [kWh], filled in after
        the block: EV charging or heat-pump power held back (delivered later,
        or for EVs possibly not at all), rooftop PV curtailed (lost), or for
        ``battery_dispatch`` the energy the battery discharged while the net
        load it measured was above the instructed limit.
    """

    time_s: float
    element: str
    measure: Measure
    window_start_s: float
    window_end_s: float
    forecast_loading_pct: float
    planned_loading_pct: float
    cap_min_kw: float
    energy_shifted_kwh: float = float("nan")


#: ``solve(forecast, ev_kw) -> loading_pct``: forecast is the object given to
#: `CongestionManager.observe`, ev_kw ``[n_step, n_column]`` [kW], the result
#: ``[n_step, n_element]`` [%].
Solve = Callable[[Any, np.ndarray], np.ndarray]


class CongestionManager:
    """Decides per-group EV power caps for each block from the previous block.

    Parameters
    ----------
    solve : callable
        ``solve(forecast, ev_kw[n_step, n_column]) -> loading_pct[n_step, n_element]``.
    element_group : ndarray of int [n_element]
        Group of each element ``solve`` reports (-1: not managed).
    group_of_column : ndarray of int [n_column]
        Group of each EV column.
    group_names : sequence of str [n_group]
        Group names for the log (e.g. transformer id, charging hub).
    n_step : int
        Steps per block [-].
    dt_s : float
        Step length [s].
    target_loading_pct : float
        Loading to keep below [%] (default 100).
    corrections : int
        Secant corrections after the linear estimate [-].
    shared_elements : (ndarray of int, ndarray of int), optional
        Further (element, group) memberships, for elements several groups
        load (e.g. the HV/MV station and every charging hub).
    group_measure : sequence of Measure [n_group], optional
        The measure that caps each group (default ``smart_charging``).
    measures : collection of Measure, optional
        The measures the scenario allows (default: all); groups of other
        measures are never capped.
    heat_pump_groups : ndarray of bool [n_group], optional
        Groups whose heat pumps may be capped (measure
        ``heat_pump_flexibility``, after the group's own measure). ``solve``
        must then take a third argument ``group_delta_kw[n_step, n_group]``,
        load added to each group's heat pumps [kW].
    pv_groups : ndarray of bool [n_group], optional
        Groups whose rooftop PV may be curtailed (measure ``curtailment``).
        ``solve`` must then take a fourth argument ``pv_kw_per_kwp[n_step,
        n_group]``, the rooftop PV per kWp to use in each group (None: the
        forecast's own).
    battery_limit_kw : ndarray of float [n_group], optional
        Per group with an LV battery, the net load of its LV grid that keeps
        its transformer at the target [kW] (nan: no battery); measure
        ``battery_dispatch``.
    mv_generator_names : sequence of str, optional
        MV solar fields and wind turbines the manager may curtail (measure
        ``curtailment``), in the column order of the ``mv_gen_mw`` given to
        `observe`. ``solve`` must then take a fifth argument
        ``mv_gen_mw[n_step, n_generator]`` [MW] (None: the forecast's own).
    mv_elements : sequence of int, optional
        Positions of the MV elements (HV/MV station, MV cables) in what
        ``solve`` reports, checked for feed-in overload.
    """

    def __init__(self, solve: Solve, element_group, group_of_column, group_names: Sequence[str], n_step: int,
                 dt_s: float, target_loading_pct: float = 100.0, corrections: int = 2, *,
                 shared_elements: tuple[np.ndarray, np.ndarray] | None = None,
                 group_measure: Sequence[Measure] | None = None, measures=None, heat_pump_groups=None,
                 pv_groups=None, battery_limit_kw=None, mv_generator_names=(), mv_elements=()):
        self.solve = solve
        element_group = np.asarray(element_group, dtype=np.int64)
        managed = np.flatnonzero(element_group >= 0)
        shared_e, shared_g = shared_elements if shared_elements is not None else ((), ())
        self._pair_element = np.concatenate([managed, np.asarray(shared_e, dtype=np.int64)])
        self._pair_group = np.concatenate([element_group[managed], np.asarray(shared_g, dtype=np.int64)])
        self.group_of_column = np.asarray(group_of_column, dtype=np.int64)
        self.group_names = list(group_names)
        self.n_group = len(self.group_names)
        self.group_measure = [Measure(m) for m in group_measure] if group_measure is not None \
            else [Measure.smart_charging] * self.n_group
        allowed = set(Measure) if measures is None else {Measure(m) for m in measures}
        self._enabled = np.array([m in allowed for m in self.group_measure], dtype=bool)
        self._hp_enabled = (np.zeros(self.n_group, dtype=bool) if heat_pump_groups is None
                            or Measure.heat_pump_flexibility not in allowed else np.asarray(heat_pump_groups, bool))
        self._pv_enabled = (np.zeros(self.n_group, dtype=bool) if pv_groups is None
                            or Measure.curtailment not in allowed else np.asarray(pv_groups, bool))
        limits = np.full(self.n_group, np.nan) if battery_limit_kw is None or Measure.battery_dispatch not in allowed \
            else np.asarray(battery_limit_kw, dtype=float)
        self._battery_limit_kw = limits
        #: Net-load limit per group's LV battery for the block [kW] (inf: no instruction), or None.
        self.battery_limits_kw: np.ndarray | None = None
        self._battery_block_log: list[Intervention] = []
        self.mv_generator_names = list(mv_generator_names) if Measure.curtailment in allowed else []
        self._mv_elements = np.asarray(mv_elements, dtype=np.int64)
        #: Feed-in limit per MV generator for the block [MW] (inf: none), or None.
        self.mv_gen_caps_mw: np.ndarray | None = None
        self._mv_gen_history: list[np.ndarray] = []
        self._mv_gen_block_log: list[Intervention] = []
        #: Rooftop-PV cap per group for the block [kW per kWp] (inf: none), or None.
        self.pv_caps_kw_per_kwp: np.ndarray | None = None
        self._pv_history: list[np.ndarray] = []
        self._pv_block_log: list[Intervention] = []
        self.n_step = int(n_step)
        self.dt_s = float(dt_s)
        self.target_loading_pct = float(target_loading_pct)
        self.corrections = int(corrections)
        self.caps_kw: np.ndarray | None = None
        #: Heat-pump power cap per group for the block [kW] (inf: none), or None.
        self.hp_caps_kw: np.ndarray | None = None
        #: Heat-pump power to hold back per group for the block, as planned [kW], or None.
        self.hp_hold_kw: np.ndarray | None = None
        #: Where heat pumps are not held back, the most the rebound may bring them to [kW] (inf: no limit), or None.
        self.hp_rebound_caps_kw: np.ndarray | None = None
        self.log: list[Intervention] = []
        self.solves = 0
        self._forecast: Any = None
        self._ev_forecast_kw: np.ndarray | None = None
        self._hp_forecast_kw: np.ndarray | None = None
        self._block_log: list[Intervention] = []
        self._hp_block_log: list[Intervention] = []

    # -- what the engine tells it -------------------------------------------------
    def observe(self, forecast: Any, ev_unmanaged_kw: np.ndarray, hp_group_kw: np.ndarray | None = None,
                pv_kw_per_kwp: np.ndarray | None = None, mv_gen_mw: np.ndarray | None = None) -> None:
        """Remember the block that just ended: the engine's forecast object, the uncapped EV power,
        the uncapped heat-pump power per group [kW], the rooftop PV available per kWp [kW/kWp] and the
        MV generators' available output [MW] ``[n_step, n_generator]``."""
        self._forecast = forecast
        if mv_gen_mw is not None and self.mv_generator_names:
            self._mv_gen_history = (self._mv_gen_history + [np.asarray(mv_gen_mw, dtype=float)])[-PV_ENVELOPE_BLOCKS:]
        if pv_kw_per_kwp is not None:
            self._pv_history = (self._pv_history + [np.asarray(pv_kw_per_kwp, dtype=float)])[-PV_ENVELOPE_BLOCKS:]
        self._ev_forecast_kw = np.asarray(ev_unmanaged_kw, dtype=float)
        if hp_group_kw is not None:  # groups after the given columns (e.g. charging hubs) have no heat pumps
            hp_group_kw = np.asarray(hp_group_kw, dtype=float)
            hp_group_kw = np.hstack([hp_group_kw, np.zeros((len(hp_group_kw), self.n_group - hp_group_kw.shape[1]))])
        self._hp_forecast_kw = hp_group_kw

    @staticmethod
    def _fill_energy(block_log: list[Intervention], energy_kwh: np.ndarray, names: Sequence[str]) -> list:
        """Write each item's energy from `energy_kwh` (per name in `names`) [kWh]; return an empty log."""
        for item in block_log:
            item.energy_shifted_kwh = float(energy_kwh[list(names).index(item.element)])
        return []

    def record_curtailment(self, curtailed_kwh: np.ndarray) -> None:
        """Fill in the rooftop-PV energy the block's caps curtailed, per group [kWh]."""
        self._pv_block_log = self._fill_energy(self._pv_block_log, curtailed_kwh, self.group_names)

    def record_battery(self, shaved_kwh: np.ndarray) -> None:
        """Fill in the energy the instructed batteries discharged above their limit, per group [kWh]."""
        self._battery_block_log = self._fill_energy(self._battery_block_log, shaved_kwh, self.group_names)

    def record_mv_curtailment(self, curtailed_kwh: np.ndarray) -> None:
        """Fill in the energy the block's feed-in limits curtailed, per MV generator [kWh]."""
        self._mv_gen_block_log = self._fill_energy(self._mv_gen_block_log, curtailed_kwh, self.mv_generator_names)

    def record_heat_pumps(self, held_back_kwh: np.ndarray) -> None:
        """Fill in the heat-pump energy the block's caps held back, per group [kWh]."""
        self._hp_block_log = self._fill_energy(self._hp_block_log, held_back_kwh, self.group_names)

    def record_block(self, p_kw: np.ndarray, p_unmanaged_kw: np.ndarray) -> None:
        """Fill in the energy the block's interventions shifted, from capped and uncapped power [kW]."""
        if not self._block_log:
            return
        n = len(p_kw)
        held = np.maximum(self._group_sum(p_unmanaged_kw) - self._group_sum(p_kw), 0.0)
        for item in self._block_log:
            g = self.group_names.index(item.element)
            item.energy_shifted_kwh = float(held[:n, g].sum() * self.dt_s / HOUR_S)
        self._block_log = []

    # -- decision ---------------------------------------------------------------------
    def _group_sum(self, ev_kw: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ev_kw), self.n_group))
        np.add.at(out.T, self.group_of_column, ev_kw.T)
        return out

    def _loading(self, ev_kw: np.ndarray, *solve_args) -> np.ndarray:
        """Loading of every element for the forecast with `ev_kw` (and the measures' `solve_args`) [%]."""
        self.solves += 1
        return np.asarray(self.solve(self._forecast, ev_kw, *solve_args), dtype=float)

    def _group_max_loading(self, ev_kw: np.ndarray, *solve_args) -> np.ndarray:
        """Highest loading of each group's elements [n_step, n_group] [%] (see `_loading`)."""
        loading = self._loading(ev_kw, *solve_args)
        out = np.full((len(loading), self.n_group), -np.inf)
        np.maximum.at(out.T, self._pair_group, loading[:, self._pair_element].T)
        return out

    def decide(self, now_s: float) -> None:
        """Set `caps_kw` (and `hp_caps_kw`) for the block starting at ``now_s`` (None: no cap), logging interventions."""
        self.caps_kw = None
        self.hp_caps_kw = None
        self.hp_hold_kw = None
        self.hp_rebound_caps_kw = None
        self.pv_caps_kw_per_kwp = None
        self.battery_limits_kw = None
        self.mv_gen_caps_mw = None
        if self._forecast is None or self._ev_forecast_kw is None:
            return
        fc = self._ev_forecast_kw
        target = self.target_loading_pct
        l_fc = self._group_max_loading(fc)
        above = (l_fc > target).any(axis=0)
        f_group = self._group_sum(fc)
        share, cap, l_plan = None, np.full(f_group.shape, np.inf), l_fc
        over = above & self._enabled
        if over.any():
            share, cap, l_plan, over = self._charging_caps(fc, f_group, over)
        if over.any():
            self.caps_kw = cap
            for g in np.flatnonzero(over):
                self._intervene(now_s, g, self.group_measure[g], l_fc, l_plan, cap[:, g].min(), self._block_log)
        ev_plan = fc if not over.any() else np.where(over[self.group_of_column],
                                                     share * np.where(over, cap, 0.0)[:, self.group_of_column], fc)
        self._heat_pump_caps(now_s, ev_plan, l_fc, l_plan)
        self._curtailment_caps(now_s, ev_plan)
        self._battery_limits(now_s, l_fc, l_plan)
        self._mv_generation_caps(now_s, ev_plan)

    def _intervene(self, now_s, g, measure, l_fc, l_plan, cap_min_kw, block_log) -> None:
        item = Intervention(
            time_s=now_s, element=self.group_names[g], measure=measure,
            window_start_s=now_s, window_end_s=now_s + len(l_fc) * self.dt_s,
            forecast_loading_pct=float(l_fc[:, g].max()), planned_loading_pct=float(l_plan[:, g].max()),
            cap_min_kw=float(cap_min_kw),
        )
        self.log.append(item)
        block_log.append(item)

    def _charging_caps(self, fc, f_group, over):
        """Charging caps of the `over` groups: (column shares, caps [n_step, n_group], planned loading, groups capped)."""
        target = self.target_loading_pct
        # where EVs sit in each group: as forecast at that step, uniform where none were
        n_col_g = np.bincount(self.group_of_column, minlength=self.n_group)
        share = np.where(f_group[:, self.group_of_column] > 0,
                         fc / np.where(f_group > 0, f_group, 1.0)[:, self.group_of_column],
                         1.0 / np.maximum(n_col_g, 1)[self.group_of_column])
        capped_column = over[self.group_of_column]
        share[:, ~capped_column] = 0.0
        # groups not capped draw their forecast (they may share elements with capped ones)
        base = np.where(capped_column, 0.0, fc)

        def loading_at(group_kw):
            return self._group_max_loading(base + share * group_kw[:, self.group_of_column])

        l0 = loading_at(np.zeros_like(f_group))
        probe_kw = np.broadcast_to(np.maximum(f_group.max(axis=0), 1.0), f_group.shape).copy()
        l_probe = loading_at(probe_kw)
        slope = np.maximum((l_probe - l0) / probe_kw, 1e-9)  # % per kW
        cap = np.maximum((target - l0) / slope, 0.0)
        for _ in range(self.corrections):
            l_cap = loading_at(cap)
            rise = l_cap - l0
            fix = (cap > 0) & (rise > 1e-9)
            cap = np.where(fix, cap * (target - l0) / np.where(fix, rise, 1.0), cap)
            cap = np.maximum(cap, 0.0)
        # a cap the group's forecast power never reaches changes nothing: leave that group alone
        over = over & (cap < f_group - 1e-9).any(axis=0)
        capped_column = over[self.group_of_column]
        l_plan = self._group_max_loading(np.where(capped_column, share * cap[:, self.group_of_column], fc))
        cap[:, ~over] = np.inf
        return share, cap, l_plan, over

    def _heat_pump_caps(self, now_s: float, ev_plan: np.ndarray, l_fc: np.ndarray, l_plan: np.ndarray) -> None:
        """Cap heat pumps where the plan after charging caps still exceeds the target (`hp_caps_kw`)."""
        hp = self._hp_forecast_kw
        if hp is None or not self._hp_enabled.any():
            return
        target = self.target_loading_pct
        hp = hp[:len(ev_plan)]
        over = self._hp_enabled & (l_plan > target).any(axis=0) & (hp > 0).any(axis=0)
        if not over.any():
            return
        from energy_sim.events.heat_pump_flex import HEAT_PUMP_FLEX_MAX_FRAC

        def loading_with(delta_kw):
            return self._group_max_loading(ev_plan, delta_kw)

        limit = HEAT_PUMP_FLEX_MAX_FRAC * np.where(over, hp, 0.0)
        l_base = l_plan
        l_probe = loading_with(-limit)
        slope = np.maximum((l_base - l_probe) / np.maximum(limit, 1e-9), 1e-9)  # % per kW held back
        held = np.clip((l_base - target) / slope, 0.0, limit)
        for _ in range(self.corrections):
            l_held = loading_with(-held)
            drop = l_base - l_held
            fix = (held > 0) & (drop > 1e-9)
            held = np.clip(np.where(fix, held * (l_base - target) / np.where(fix, drop, 1.0), held), 0.0, limit)
        held = np.nan_to_num(held, nan=0.0)
        over &= (held > 1e-9).any(axis=0)
        if not over.any():
            return
        held[:, ~over] = 0.0
        l_after = loading_with(-held)
        # held back where the forecast is congested; elsewhere the rebound may fill the forecast room below
        # the target, so that it cannot make a new peak
        with np.errstate(invalid="ignore"):  # steps whose load flow gave no loading: no room
            room = np.nan_to_num(np.maximum((target - l_after) / slope, 0.0), nan=0.0)
        # hold back only what the block's room can take back (no debt carried into a colder tomorrow)
        room = np.where(held > 1e-9, 0.0, np.minimum(room, HEAT_PUMP_FLEX_MAX_FRAC * hp.max(axis=0)))
        scale = np.minimum(1.0, room.sum(axis=0) / np.maximum(held.sum(axis=0), 1e-12))
        held *= scale
        over &= (held > 1e-9).any(axis=0)
        if not over.any():
            return
        caps = np.where(held > 1e-9, hp - held, np.inf)
        caps[:, ~over] = np.inf
        rebound = np.where(held > 1e-9, np.inf, hp + room)
        rebound[:, ~over] = np.inf
        self.hp_caps_kw = caps
        self.hp_hold_kw = held
        self.hp_rebound_caps_kw = rebound
        for g in np.flatnonzero(over):
            self._intervene(now_s, g, Measure.heat_pump_flexibility, l_fc, l_after, caps[:, g].min(),
                            self._hp_block_log)

    def _curtailment_caps(self, now_s: float, ev_plan: np.ndarray) -> None:
        """Cap rooftop PV per group where the sunniest recent day would overload it (`pv_caps_kw_per_kwp`).

        The forecast of PV is an envelope: per step, the most PV per kWp seen
        at that step over the last `PV_ENVELOPE_BLOCKS` blocks (a clear day
        in the last week comes back; yesterday's clouds are not relied on).
        Where the envelope overloads a group, the PV per kWp that keeps it at
        the target is found per step on the feed-in side by secant steps
        between the envelope and 60 % of it; the group's cap for the whole
        block is the lowest of these (a feed-in limit per kWp, as grid
        operators set them: a sunnier hour than the envelope's stays within
        the rating too).
        """
        if not self._pv_history or not self._pv_enabled.any():
            return
        n = len(ev_plan)
        envelope = np.max([h[:n] for h in self._pv_history if len(h) >= n], axis=0, initial=0.0)
        if envelope.max() <= 0:
            return
        target = self.target_loading_pct
        env_g = np.repeat(envelope[:, None], self.n_group, axis=1)

        def loading_with(pv_kw_per_kwp):
            return self._group_max_loading(ev_plan, None, pv_kw_per_kwp)

        hi = env_g.copy()
        l_hi = loading_with(hi)
        lo = 0.6 * env_g
        l_lo = loading_with(lo)
        # congested by feed-in: above the target with the envelope, and less with less PV
        congested = (l_hi > target) & (l_lo < l_hi - 1e-9) & self._pv_enabled[None, :]
        over = congested.any(axis=0)
        if not over.any():
            return
        cap = np.where(congested, hi, np.inf)
        for _ in range(3):
            guess = lo + (target - l_lo) * (hi - lo) / np.where(l_hi - l_lo > 1e-9, l_hi - l_lo, 1.0)
            guess = np.clip(guess, 0.0, env_g)
            l_guess = loading_with(np.where(congested, guess, env_g))
            cap = np.where(congested, guess, np.inf)
            hi, l_hi, lo, l_lo = guess, l_guess, hi, l_hi
        limit = np.where(over, np.min(np.where(congested, cap, np.inf), axis=0), np.inf)
        cap = np.broadcast_to(limit, env_g.shape).copy()
        l_plan = loading_with(np.minimum(env_g, cap))
        self.pv_caps_kw_per_kwp = cap
        l_env = loading_with(env_g)
        for g in np.flatnonzero(over):
            self._intervene(now_s, g, Measure.curtailment, l_env, l_plan, np.nanmin(cap[:, g]), self._pv_block_log)

    def _battery_limits(self, now_s: float, l_fc: np.ndarray, l_plan: np.ndarray) -> None:
        """Instruct the LV batteries of groups still planned above the target (`battery_limits_kw`).

        The forecast leaves batteries out (they follow their own rule), so a
        group above the target in the plan after charging caps is one the
        battery's own rule is not known to relieve. Its instruction for the
        whole block is the group's net-load limit (``battery_limit_kw``, from
        the engine): the battery discharges whatever the LV grid draws above
        it, within its power and stored energy. ASSUMPTION: the plan after
        charging caps is used, not the one after heat-pump caps; a battery
        instructed where heat pumps already relieve the group only acts if the
        measured load does exceed the limit, so nothing is spent needlessly.
        """
        over = np.isfinite(self._battery_limit_kw) & (l_plan > self.target_loading_pct).any(axis=0)
        if not over.any():
            return
        self.battery_limits_kw = np.where(over, self._battery_limit_kw, np.inf)
        # planned: the target where the forecast exceeded it (reached if the battery has the power and energy)
        l_target = np.minimum(l_plan, self.target_loading_pct)
        for g in np.flatnonzero(over):
            self._intervene(now_s, g, Measure.battery_dispatch, l_fc, l_target, self._battery_limit_kw[g],
                            self._battery_block_log)

    def _mv_generation_caps(self, now_s: float, ev_plan: np.ndarray) -> None:
        """Feed-in limits for MV solar fields and wind turbines where they would overload the MV (`mv_gen_caps_mw`).

        The forecast of generation is, per generator and step, the most it
        delivered at that step over the last `PV_ENVELOPE_BLOCKS` blocks (as
        for rooftop PV). A step is congested by feed-in where an MV element
        (station, cable) exceeds the target with the envelope and loads less
        with 60 % of it. All generators then get the same limit as a share
        ``f`` of their own envelope peak, ``min(envelope, f * peak)``: the
        largest ``f`` keeping every congested step at the target, found by
        bisection to 1/2^12 (ASSUMPTION: an equal share of each generator's
        peak, as a grid operator limits the parks of one station pro rata;
        which park's feed-in relieves which cable more is not weighed).
        """
        if not self.mv_generator_names or not self._mv_gen_history or not len(self._mv_elements):
            return
        n = len(ev_plan)
        envelope = np.max([h[:n] for h in self._mv_gen_history if len(h) >= n], axis=0, initial=0.0)
        peak_mw = envelope.max(axis=0)
        if peak_mw.max() <= 0:
            return
        target = self.target_loading_pct

        def mv_loading(gen_mw):
            return self._loading(ev_plan, None, None, gen_mw)[:, self._mv_elements].max(axis=1)

        l_env = mv_loading(envelope)
        l_low = mv_loading(0.6 * envelope)
        congested = (l_env > target) & (l_low < l_env - 1e-9)
        if not congested.any():
            return
        lo, hi = 0.0, 1.0
        for _ in range(12):
            mid = 0.5 * (lo + hi)
            if (mv_loading(np.minimum(envelope, mid * peak_mw))[congested] > target).any():
                hi = mid
            else:
                lo = mid
        caps = np.where(peak_mw > 0, lo * peak_mw, np.inf)
        self.mv_gen_caps_mw = caps
        l_plan = mv_loading(np.minimum(envelope, caps))
        for j in np.flatnonzero(envelope.max(axis=0) > caps):
            item = Intervention(
                time_s=now_s, element=self.mv_generator_names[j], measure=Measure.curtailment,
                window_start_s=now_s, window_end_s=now_s + n * self.dt_s,
                forecast_loading_pct=float(l_env.max()), planned_loading_pct=float(l_plan.max()),
                cap_min_kw=float(caps[j] * 1000.0),
            )
            self.log.append(item)
            self._mv_gen_block_log.append(item)

    def log_frame(self) -> pd.DataFrame:
        """The interventions as a table (one row each)."""
        cols = [f for f in Intervention.__dataclass_fields__]
        return pd.DataFrame([asdict(i) for i in self.log], columns=cols)


def manager_process(env: simpy.Environment, manager: CongestionManager, block_s: float, first_block_s: float = 0.0):
    """Wake at the start of every block and decide its caps."""
    if first_block_s > env.now:
        yield env.timeout(first_block_s - env.now)
    while True:
        manager.decide(env.now)
        yield env.timeout(block_s)

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

__all__ = ["CongestionManager", "Intervention", "manager_process"]


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
        EV energy held back while the cap bit (uncapped minus capped, summed
        over the steps where it is positive) and so delivered later or not at
        all [kWh]; filled in after the block.
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
    """

    def __init__(self, solve: Solve, element_group, group_of_column, group_names: Sequence[str], n_step: int,
                 dt_s: float, target_loading_pct: float = 100.0, corrections: int = 2, *,
                 shared_elements: tuple[np.ndarray, np.ndarray] | None = None,
                 group_measure: Sequence[Measure] | None = None, measures=None):
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
        self.n_step = int(n_step)
        self.dt_s = float(dt_s)
        self.target_loading_pct = float(target_loading_pct)
        self.corrections = int(corrections)
        self.caps_kw: np.ndarray | None = None
        self.log: list[Intervention] = []
        self.solves = 0
        self._forecast: Any = None
        self._ev_forecast_kw: np.ndarray | None = None
        self._block_log: list[Intervention] = []

    # -- what the engine tells it -------------------------------------------------
    def observe(self, forecast: Any, ev_unmanaged_kw: np.ndarray) -> None:
        """Remember the block that just ended: the engine's forecast object and the uncapped EV power [kW]."""
        self._forecast = forecast
        self._ev_forecast_kw = np.asarray(ev_unmanaged_kw, dtype=float)

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

    def _group_max_loading(self, ev_kw: np.ndarray) -> np.ndarray:
        self.solves += 1
        loading = np.asarray(self.solve(self._forecast, ev_kw), dtype=float)
        out = np.full((len(loading), self.n_group), -np.inf)
        np.maximum.at(out.T, self._pair_group, loading[:, self._pair_element].T)
        return out

    def decide(self, now_s: float) -> None:
        """Set `caps_kw` for the block starting at ``now_s`` (None: no cap), logging interventions."""
        self.caps_kw = None
        if self._forecast is None or self._ev_forecast_kw is None:
            return
        fc = self._ev_forecast_kw
        target = self.target_loading_pct
        l_fc = self._group_max_loading(fc)
        over = (l_fc > target).any(axis=0) & self._enabled
        if not over.any():
            return
        # where EVs sit in each group: as forecast at that step, uniform where none were
        f_group = self._group_sum(fc)
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
        over &= (cap < f_group - 1e-9).any(axis=0)
        if not over.any():
            return
        capped_column = over[self.group_of_column]
        l_plan = self._group_max_loading(np.where(capped_column, share * cap[:, self.group_of_column], fc))
        cap[:, ~over] = np.inf
        self.caps_kw = cap
        n = len(fc)
        for g in np.flatnonzero(over):
            item = Intervention(
                time_s=now_s, element=self.group_names[g], measure=self.group_measure[g],
                window_start_s=now_s, window_end_s=now_s + n * self.dt_s,
                forecast_loading_pct=float(l_fc[:, g].max()), planned_loading_pct=float(l_plan[:, g].max()),
                cap_min_kw=float(cap[:, g].min()),
            )
            self.log.append(item)
            self._block_log.append(item)

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

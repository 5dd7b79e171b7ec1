"""Heat-pump flexibility: hold heat-pump power under a cap and deliver the heat later.

A building's thermal mass lets a heat pump run below its demand for a while
without the occupants noticing; the heat held back is made up afterwards
(the "rebound"). The congestion manager uses this on an MV/LV transformer it
forecasts above its rating (measure ``heat_pump_flexibility``, after smart
charging): it caps the group's heat-pump power at the congested steps, and
`HeatPumpDeferral` applies the cap block by block, carrying the held-back
energy across block boundaries, so the heat-pump energy over the horizon is
conserved.

Bounds (ASSUMPTION, after Dutch and German demand-response pilots with
heat pumps, which throttle for up to one to two hours at a time):

- at most ``HEAT_PUMP_FLEX_MAX_FRAC`` (50 %) of a group's heat-pump power is
  held back at any step;
- the rebound adds at most that fraction of the group's highest heat-pump
  power in the block (a stand-in for the installed capacity the heat pumps
  use), and never goes above the cap while a cap holds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HEAT_PUMP_FLEX_MAX_FRAC", "HeatPumpDeferral"]

#: Largest share of a group's heat-pump power held back or added back at a step [-] (ASSUMPTION, see above).
HEAT_PUMP_FLEX_MAX_FRAC = 0.5


class HeatPumpDeferral:
    """Heat-pump caps per group, applied block after block with the deferred energy carried over.

    Parameters
    ----------
    n_group : int
        Groups (e.g. MV/LV transformers) [-].
    dt_h : float
        Step length [h].
    max_frac : float
        Largest share of the group's heat-pump power held back or added back per step [-].
    """

    def __init__(self, n_group: int, dt_h: float, max_frac: float = HEAT_PUMP_FLEX_MAX_FRAC):
        self.n_group = int(n_group)
        self.dt_h = float(dt_h)
        self.max_frac = float(max_frac)
        #: Energy held back and not yet delivered, per group [kWh].
        self.deferred_kwh = np.zeros(self.n_group)
        #: Energy held back over the horizon, per group [kWh].
        self.held_back_kwh = np.zeros(self.n_group)

    def apply(self, group_kw: np.ndarray, cap_kw: np.ndarray | None,
              rebound_cap_kw: np.ndarray | None = None) -> np.ndarray:
        """The groups' heat-pump power after caps and rebound for one block.

        Parameters
        ----------
        group_kw : ndarray [n_step, n_group]
            Heat-pump power each group would draw [kW].
        cap_kw : ndarray [n_step, n_group] or None
            Cap per group and step [kW] (``inf``: none): power above it is held back.
        rebound_cap_kw : ndarray [n_step, n_group], optional
            Where there is no cap, the highest power the rebound may bring the
            group to [kW] (``inf``: only the ``max_frac`` limit).

        Returns
        -------
        ndarray [n_step, n_group]
            Power drawn [kW]: the demand, less what a cap holds back (at most
            ``max_frac`` of it), plus deferred energy paid back where there is
            room (at most ``max_frac`` of the block's highest demand, never
            above a cap).
        """
        group_kw = np.asarray(group_kw, dtype=float)
        cap = np.full_like(group_kw, np.inf) if cap_kw is None else np.asarray(cap_kw, dtype=float)
        ceiling = np.minimum(cap, np.inf if rebound_cap_kw is None else np.asarray(rebound_cap_kw, dtype=float))
        out = np.empty_like(group_kw)
        rebound_kw = self.max_frac * group_kw.max(axis=0, initial=0.0)
        for k in range(len(group_kw)):
            demand = group_kw[k]
            held = np.clip(demand - cap[k], 0.0, self.max_frac * demand)
            room = np.maximum(np.minimum(rebound_kw, ceiling[k] - demand), 0.0)
            paid = np.where(held > 0, 0.0, np.minimum(room, self.deferred_kwh / self.dt_h))
            out[k] = demand - held + paid
            self.deferred_kwh += (held - paid) * self.dt_h
            self.held_back_kwh += held * self.dt_h
        return out

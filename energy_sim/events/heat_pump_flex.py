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
  use), and never goes above the cap while a cap holds;
- energy still held back at the end of a block is paid back in the next one
  no faster than over ``CARRIED_PAYBACK_MIN_H`` where that block sets no
  rebound limit, so it does not land as one spike at the block boundary.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HEAT_PUMP_FLEX_MAX_FRAC", "CARRIED_PAYBACK_MIN_H", "HeatPumpDeferral"]

#: Largest share of a group's heat-pump power held back or added back at a step [-] (ASSUMPTION, see above).
HEAT_PUMP_FLEX_MAX_FRAC = 0.5

#: Energy carried over from an earlier block is paid back over at least this long [h] where the block
#: has no rebound limit of its own (ASSUMPTION: heat pumps recovering gently, not all at once at midnight).
CARRIED_PAYBACK_MIN_H = 3.0


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

    def apply(self, group_kw: np.ndarray, hold_kw: np.ndarray | None,
              rebound_cap_kw: np.ndarray | None = None) -> np.ndarray:
        """The groups' heat-pump power after caps and rebound for one block.

        Parameters
        ----------
        group_kw : ndarray [n_step, n_group]
            Heat-pump power each group would draw [kW].
        hold_kw : ndarray [n_step, n_group] or None
            Power to hold back per group and step, as planned [kW] (0: none);
            at most ``max_frac`` of the demand is held back.
        rebound_cap_kw : ndarray [n_step, n_group], optional
            The highest power the rebound may bring each group to [kW]
            (``inf``: only the ``max_frac`` limit).

        Returns
        -------
        ndarray [n_step, n_group]
            Power drawn [kW]: the demand, less what is held back (as planned,
            at most ``max_frac`` of it), plus deferred energy paid back where
            nothing is held (at most ``max_frac`` of the block's highest
            demand, never above the rebound cap).
        """
        group_kw = np.asarray(group_kw, dtype=float)
        hold = np.zeros_like(group_kw) if hold_kw is None else np.asarray(hold_kw, dtype=float)
        ceiling = np.full_like(group_kw, np.inf) if rebound_cap_kw is None else np.asarray(rebound_cap_kw, dtype=float)
        out = np.empty_like(group_kw)
        rebound_kw = self.max_frac * group_kw.max(axis=0, initial=0.0)
        # carried-over energy where nothing limits the rebound: spread it out
        unplanned = ~np.isfinite(ceiling).any(axis=0)
        rebound_kw = np.where(unplanned & (self.deferred_kwh > 0),
                              np.minimum(rebound_kw, self.deferred_kwh / CARRIED_PAYBACK_MIN_H), rebound_kw)
        for k in range(len(group_kw)):
            demand = group_kw[k]
            held = np.clip(hold[k], 0.0, self.max_frac * demand)
            room = np.maximum(np.minimum(rebound_kw, ceiling[k] - demand), 0.0)
            paid = np.where(held > 0, 0.0, np.minimum(room, self.deferred_kwh / self.dt_h))
            out[k] = demand - held + paid
            self.deferred_kwh += (held - paid) * self.dt_h
            self.held_back_kwh += held * self.dt_h
        return out

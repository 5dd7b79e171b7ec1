"""EV charging: sessions -> power arrays, block by block, with carry-over.

DESIGN.md decision 1: events decide state (which EV is plugged in where,
from when until when, wanting how much), arrays carry power. `ChargingState`
holds the sessions that are under way between blocks; `ChargingState.run_block`
turns them into a ``[n_step, n_column]`` power array for one block in one
compiled pass (numba, vectorised over sessions, no Python per step or per
asset), so a session plugged in at 18:00 and leaving at 07:00 the next day
charges across the block boundary with its remaining energy.

Policies (`ChargingPolicy`, from the scenario schema):

- ``uncontrolled``: full power from plug-in until the energy is delivered.
- ``off_peak``: the start is delayed to ``off_peak_start_h`` (local) unless
  the car plugs in during the off-peak window; it still starts early enough
  to finish by departure at full power (``start <= departure - e / p``).
- ``smart``: as early as possible under a per-group power cap
  ``cap_kw[n_step, n_group]`` (e.g. per transformer, set by the congestion
  manager). Inside a group, energy that *must* flow in this step to finish by
  departure at full power is served first; the rest of the cap is shared in
  proportion to what each car could still take. Without a cap, smart equals
  uncontrolled. The same cap also applies under the other two policies.

Energy conservation: per session ``delivered + undelivered = requested``;
`ChargingState.totals` reports requested, delivered and undelivered energy per
group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from energy_sim.events.sessions import HOUR_S, Sessions
from energy_sim.scenario.schema import ChargingPolicy

__all__ = ["ChargingPolicy", "ChargingState", "BlockCharging", "effective_start_s", "charge_kernel"]

#: Remaining energy below this counts as delivered [kWh] (float round-off).
E_EPS_KWH = 1e-9


@numba.njit(cache=True)
def charge_kernel(start_s, departure_s, rem_kwh, p_kw, group, column, block_start_s, dt_s, cap_kw, out_kw):
    """Charge sessions over one block, as early as possible under group caps.

    Groups without a finite cap in the block take the short path: each session
    at full power over just the steps it charges. Capped groups are walked
    step by step, all their sessions at once.

    Parameters
    ----------
    start_s, departure_s : float64 [n_sess]
        Earliest charging start and departure [s].
    rem_kwh : float64 [n_sess]
        Energy still wanted [kWh]; decreased in place.
    p_kw : float64 [n_sess]
        Power limit [kW].
    group, column : int64 [n_sess]
        Cap group and output column of each session.
    block_start_s, dt_s : float
        Start of the block and step length [s].
    cap_kw : float64 [n_step, n_group]
        Power cap per group [kW] (``inf`` = none).
    out_kw : float64 [n_step, n_column]
        Power per column [kW], mean over each step; added to in place.
    """
    n_step, n_group = cap_kw.shape
    capped = np.zeros(n_group, dtype=np.bool_)
    for g in range(n_group):
        for k in range(n_step):
            if cap_kw[k, g] < np.inf:
                capped[g] = True
                break
    # sessions of uncapped groups: full power from the start, only over the steps they charge
    block_end_s = block_start_s + n_step * dt_s
    n_capped = 0
    for i in range(len(start_s)):
        if capped[group[i]]:
            n_capped += 1
            continue
        a = max(start_s[i], block_start_s)
        k = int((a - block_start_s) // dt_s)
        while rem_kwh[i] > 0.0 and k < n_step:
            t0 = block_start_s + k * dt_s
            lo = max(start_s[i], t0)
            hi = min(departure_s[i], t0 + dt_s, block_end_s)
            if hi <= lo:
                if departure_s[i] <= t0:
                    break
                k += 1
                continue
            e = min(rem_kwh[i], p_kw[i] * (hi - lo) / HOUR_S)
            rem_kwh[i] -= e
            out_kw[k, column[i]] += e * HOUR_S / dt_s
            k += 1
    if n_capped == 0:
        return
    idx = np.empty(n_capped, dtype=np.int64)
    j = 0
    for i in range(len(start_s)):
        if capped[group[i]]:
            idx[j] = i
            j += 1
    n = n_capped
    e_max = np.zeros(n)
    must = np.zeros(n)
    must_g = np.zeros(n_group)
    free_g = np.zeros(n_group)
    for k in range(n_step):
        t0 = block_start_s + k * dt_s
        t1 = t0 + dt_s
        must_g[:] = 0.0
        free_g[:] = 0.0
        for jj in range(n):
            i = idx[jj]
            a = max(start_s[i], t0)
            b = min(departure_s[i], t1)
            if b <= a or rem_kwh[i] <= 0.0:
                e_max[jj] = 0.0
                must[jj] = 0.0
                continue
            e_max[jj] = min(rem_kwh[i], p_kw[i] * (b - a) / HOUR_S)
            later_kwh = p_kw[i] * max(0.0, departure_s[i] - max(t1, start_s[i])) / HOUR_S
            must[jj] = min(max(rem_kwh[i] - later_kwh, 0.0), e_max[jj])
            must_g[group[i]] += must[jj]
            free_g[group[i]] += e_max[jj] - must[jj]
        for jj in range(n):
            if e_max[jj] <= 0.0:
                continue
            i = idx[jj]
            g = group[i]
            c = cap_kw[k, g] * dt_s / HOUR_S
            if c >= must_g[g] + free_g[g]:
                e = e_max[jj]
            elif c >= must_g[g]:
                e = must[jj] + (e_max[jj] - must[jj]) * (c - must_g[g]) / free_g[g]
            else:
                e = must[jj] * c / must_g[g]
            rem_kwh[i] -= e
            out_kw[k, column[i]] += e * HOUR_S / dt_s


#: Golden-ratio fraction: ``frac(k * phi)`` spreads any run of integers evenly over [0, 1).
_PHI_FRAC = 0.6180339887498949


def effective_start_s(arrival_s, departure_s, e_kwh, p_kw, day_start_s, policy: ChargingPolicy | str,
                      off_peak_start_h: float = 23.0, off_peak_end_h: float = 7.0, *,
                      off_peak_spread_h: float = 0.0, stagger_key=None) -> np.ndarray:
    """Earliest charging start of each session under a policy [s].

    Parameters
    ----------
    arrival_s, departure_s : ndarray
        Plug-in and departure [s].
    e_kwh, p_kw : ndarray
        Energy wanted [kWh] and power limit [kW].
    day_start_s : ndarray
        Every local midnight of the horizon, sorted [s]; gives the local time of day.
    policy : ChargingPolicy or str
    off_peak_start_h, off_peak_end_h : float
        Off-peak window, local time [h]; may wrap midnight (default 23-07 h,
        the Dutch low-tariff night hours of the former dual tariff).
    off_peak_spread_h : float
        Cars waiting for the window start up to this long after its opening
        [h], each at its own fixed offset ``frac(key * golden ratio) *
        spread`` (deterministic, evenly spread), so that the fleet does not
        switch on at one instant. Charge points do this with a randomised
        delay (the UK Smart Charge Points Regulations 2021 require one of up
        to 10 min by default, extendable to 30 min); the default of the
        engine, 2 h, is a planning ASSUMPTION. Never later than the latest
        start that still finishes by departure.
    stagger_key : ndarray of int, optional
        The offset's key per session (the charge point's column); required
        when ``off_peak_spread_h > 0``.
    """
    policy = ChargingPolicy(policy)
    arrival_s = np.asarray(arrival_s, dtype=float)
    if policy != ChargingPolicy.off_peak:
        return arrival_s.copy()
    day0 = np.asarray(day_start_s)[np.clip(np.searchsorted(day_start_s, arrival_s, side="right") - 1, 0, None)]
    tod_h = (arrival_s - day0) / HOUR_S
    if off_peak_start_h > off_peak_end_h:
        inside = (tod_h >= off_peak_start_h) | (tod_h < off_peak_end_h)
    else:
        inside = (tod_h >= off_peak_start_h) & (tod_h < off_peak_end_h)
    # next off-peak start after arrival (same day, or the next day for a window not wrapping midnight)
    next_start = day0 + off_peak_start_h * HOUR_S
    next_start = np.where(next_start < arrival_s, next_start + 86_400.0, next_start)
    if off_peak_spread_h > 0:
        next_start = next_start + np.mod(np.asarray(stagger_key, dtype=float) * _PHI_FRAC, 1.0) * off_peak_spread_h * HOUR_S
    start = np.where(inside, arrival_s, next_start)
    latest = np.asarray(departure_s) - np.asarray(e_kwh) / np.asarray(p_kw) * HOUR_S
    return np.maximum(arrival_s, np.minimum(start, latest))


@dataclass
class BlockCharging:
    """Charging of one block.

    Attributes
    ----------
    p_kw : ndarray [n_step, n_column]
        Power per charge point [kW].
    p_unmanaged_kw : ndarray [n_step, n_column] or None
        What the same sessions would have drawn without any cap [kW] (only
        when asked for; the congestion manager's counterfactual).
    """

    p_kw: np.ndarray
    p_unmanaged_kw: np.ndarray | None = None


@dataclass
class ChargingState:
    """Sessions under way between blocks, and energy totals per group.

    Construct once per set of charge points (e.g. all home chargers of a
    city, or all public points) and call `add` with new sessions and
    `run_block` once per block, in time order.

    Parameters
    ----------
    group_of_column : ndarray of int [n_column]
        Cap/report group of each charge point (e.g. transformer index).
    n_group : int
    policy : ChargingPolicy or str
    day_start_s : ndarray
        Local midnights of the horizon [s] (for the off-peak policy).
    off_peak_start_h, off_peak_end_h : float
        Off-peak window [h, local].
    off_peak_spread_h : float
        Stagger of off-peak starts [h] (`effective_start_s`).
    keep_finished : bool
        Keep every finished session (for tests and analysis; memory grows
        with the horizon).
    """

    group_of_column: np.ndarray
    n_group: int
    policy: ChargingPolicy | str = ChargingPolicy.uncontrolled
    day_start_s: np.ndarray = field(default_factory=lambda: np.zeros(1))
    off_peak_start_h: float = 23.0
    off_peak_end_h: float = 7.0
    keep_finished: bool = False
    off_peak_spread_h: float = 0.0

    def __post_init__(self) -> None:
        self.policy = ChargingPolicy(self.policy)
        self.group_of_column = np.asarray(self.group_of_column, dtype=np.int64)
        self._open = Sessions()
        self._start_s = np.zeros(0)
        self._rem_kwh = np.zeros(0)
        self.requested_kwh = np.zeros(self.n_group)
        self.delivered_kwh = np.zeros(self.n_group)
        self.undelivered_kwh = np.zeros(self.n_group)
        self.n_finished = np.zeros(self.n_group, dtype=np.int64)
        self.finished: list[tuple[Sessions, np.ndarray]] = []  # (sessions, delivered_kwh) when keep_finished

    @property
    def n_column(self) -> int:
        return len(self.group_of_column)

    @property
    def n_open(self) -> int:
        """Sessions not finished yet (plugged in or arriving later) [-]."""
        return len(self._open)

    def add(self, sessions: Sessions) -> None:
        """Add sessions (any plug-in time not before the next block's start)."""
        if not len(sessions):
            return
        start = effective_start_s(sessions.arrival_s, sessions.departure_s, sessions.e_request_kwh, sessions.p_max_kw,
                                  self.day_start_s, self.policy, self.off_peak_start_h, self.off_peak_end_h,
                                  off_peak_spread_h=self.off_peak_spread_h, stagger_key=sessions.column)
        self._open = Sessions.concat([self._open, sessions])
        self._start_s = np.concatenate([self._start_s, start])
        self._rem_kwh = np.concatenate([self._rem_kwh, sessions.e_request_kwh])

    def run_block(self, block_start_s: float, n_step: int, dt_s: float, cap_kw: np.ndarray | None = None,
                  unmanaged: bool = False) -> BlockCharging:
        """Charge the open sessions over one block and close those that end in it.

        Parameters
        ----------
        block_start_s : float
            Start of the block [s since scenario start].
        n_step : int
            Steps in the block [-].
        dt_s : float
            Step length [s].
        cap_kw : ndarray [n_step, n_group], optional
            Power cap per group [kW]; ``inf`` or None = no cap.
        unmanaged : bool
            Also compute the counterfactual without cap (`BlockCharging.p_unmanaged_kw`).

        Returns
        -------
        BlockCharging
        """
        if cap_kw is None:
            cap_kw = np.full((n_step, self.n_group), np.inf)
        cap_kw = np.ascontiguousarray(np.maximum(np.broadcast_to(np.asarray(cap_kw, dtype=float), (n_step, self.n_group)), 0.0))
        s = self._open
        block_end_s = block_start_s + n_step * dt_s
        group = self.group_of_column[s.column]
        p = np.zeros((n_step, self.n_column))
        p_unmanaged = None
        if unmanaged:
            p_unmanaged = np.zeros((n_step, self.n_column))
            charge_kernel(self._start_s, s.departure_s, self._rem_kwh.copy(), s.p_max_kw, group, s.column,
                          float(block_start_s), float(dt_s), np.full_like(cap_kw, np.inf), p_unmanaged)
        charge_kernel(self._start_s, s.departure_s, self._rem_kwh, s.p_max_kw, group, s.column,
                      float(block_start_s), float(dt_s), cap_kw, p)
        done = (s.departure_s <= block_end_s) | (self._rem_kwh <= E_EPS_KWH)
        if done.any():
            self._close(done, group)
        return BlockCharging(p, p_unmanaged)

    def _close(self, done: np.ndarray, group: np.ndarray) -> None:
        s = self._open
        rem = np.where(self._rem_kwh[done] <= E_EPS_KWH, 0.0, self._rem_kwh[done])
        req = s.e_request_kwh[done]
        g = group[done]
        self.requested_kwh += np.bincount(g, req, self.n_group)
        self.delivered_kwh += np.bincount(g, req - rem, self.n_group)
        self.undelivered_kwh += np.bincount(g, rem, self.n_group)
        self.n_finished += np.bincount(g, minlength=self.n_group)
        if self.keep_finished:
            self.finished.append((Sessions(s.column[done], s.arrival_s[done], s.departure_s[done], req,
                                           s.p_max_kw[done]), req - rem))
        keep = ~done
        self._open = Sessions(s.column[keep], s.arrival_s[keep], s.departure_s[keep], s.e_request_kwh[keep],
                              s.p_max_kw[keep])
        self._start_s = self._start_s[keep]
        self._rem_kwh = self._rem_kwh[keep]

    def totals(self) -> dict[str, np.ndarray]:
        """Energy of finished sessions per group: requested, delivered, undelivered [kWh], sessions [-]."""
        return {"requested_kwh": self.requested_kwh.copy(), "delivered_kwh": self.delivered_kwh.copy(),
                "undelivered_kwh": self.undelivered_kwh.copy(), "sessions": self.n_finished.copy()}

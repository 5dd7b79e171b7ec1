"""Congestion metrics from loading and voltage series.

Pure numpy over arrays ``[n_step, n_element]``; no pandapower.  Definitions
(the same for transformers and cables):

- *peak loading* — the largest loading over the horizon [%];
- *overload hours* — time with loading above 100 % of rating [h];
- *energy above rating* — the integral of the apparent power above the rating,
  ``sum(max(0, loading - 100) / 100 * s_rated) * dt`` [MWh]; for cables the
  rating is ``sqrt(3) * vn_kv * max_i_ka`` [MVA] (nominal voltage);
- *voltage violation hours* — time with the bus voltage outside the band
  (EN 50160: 0.90-1.10 p.u.) [h];
- a *congestion event* — a maximal run of consecutive steps above 100 % on one
  element, with its start, end (exclusive), peak and energy above rating.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OVERLOAD_PCT = 100.0


def overload_hours(loading_pct: np.ndarray, dt_h: float, limit_pct: float = OVERLOAD_PCT) -> np.ndarray:
    """Hours above `limit_pct` per element [h] (`loading_pct`: ``[n_step, n]``)."""
    return np.count_nonzero(loading_pct > limit_pct, axis=0) * dt_h


def energy_above_rating_mwh(loading_pct: np.ndarray, s_rated_mva: np.ndarray, dt_h: float) -> np.ndarray:
    """Energy transported above the rating per element [MWh].

    Parameters
    ----------
    loading_pct : ndarray ``[n_step, n]``
        Loading relative to the rating [%].
    s_rated_mva : ndarray ``[n]``
        Rating [MVA].
    dt_h : float
        Step length [h].
    """
    excess_frac = np.clip(loading_pct - OVERLOAD_PCT, 0.0, None) / 100.0
    return excess_frac.sum(axis=0, dtype=np.float64) * np.asarray(s_rated_mva, dtype=np.float64) * dt_h


def line_rating_mva(vn_kv: np.ndarray, max_i_ka: np.ndarray) -> np.ndarray:
    """Thermal rating of a cable at nominal voltage, sqrt(3) U I [MVA]."""
    return np.sqrt(3.0) * np.asarray(vn_kv, dtype=np.float64) * np.asarray(max_i_ka, dtype=np.float64)


def voltage_violation_hours(vm_pu: np.ndarray, band_pu: tuple[float, float], dt_h: float) -> np.ndarray:
    """Hours outside the voltage band per bus [h] (`vm_pu`: ``[n_step, n_bus]``)."""
    low, high = band_pu
    outside = (vm_pu < low) | (vm_pu > high)
    return np.count_nonzero(outside, axis=0) * dt_h


def congestion_events(
    loading_pct: np.ndarray,
    time_utc: pd.DatetimeIndex,
    element_ids: np.ndarray,
    s_rated_mva: np.ndarray,
    limit_pct: float = OVERLOAD_PCT,
) -> pd.DataFrame:
    """Every maximal run of steps above `limit_pct`, per element.

    Parameters
    ----------
    loading_pct : ndarray ``[n_step, n]``
        Loading [%].
    time_utc : DatetimeIndex
        Start of each step (regular).
    element_ids : ndarray ``[n]``
        Labels of the elements.
    s_rated_mva : ndarray ``[n]``
        Ratings [MVA], for the energy above rating.

    Returns
    -------
    DataFrame
        Columns ``element, start_utc, end_utc, duration_h, peak_loading_pct,
        energy_above_rating_mwh``; ``end_utc`` is the end of the last
        overloaded step.  Sorted by start, then element.
    """
    columns = ["element", "start_utc", "end_utc", "duration_h", "peak_loading_pct", "energy_above_rating_mwh"]
    n_step = loading_pct.shape[0]
    if n_step == 0:
        return pd.DataFrame(columns=columns)
    dt_h = (time_utc[1] - time_utc[0]).total_seconds() / 3600.0 if n_step > 1 else 0.25
    over = loading_pct > limit_pct
    padded = np.zeros((n_step + 2, over.shape[1]), dtype=np.int8)
    padded[1:-1] = over
    edges = np.diff(padded, axis=0)
    start_step, start_elem = np.nonzero(edges == 1)
    end_step, end_elem = np.nonzero(edges == -1)
    # nonzero scans row-major, so sort both by element then step to pair them
    start_order = np.lexsort((start_step, start_elem))
    end_order = np.lexsort((end_step, end_elem))
    starts, elems = start_step[start_order], start_elem[start_order]
    ends = end_step[end_order]
    if len(starts) == 0:
        return pd.DataFrame(columns=columns)
    excess = np.clip(loading_pct - limit_pct, 0.0, None) / 100.0
    cumulative = np.vstack([np.zeros((1, excess.shape[1])), np.cumsum(excess, axis=0, dtype=np.float64)])
    energy = (cumulative[ends, elems] - cumulative[starts, elems]) * np.asarray(s_rated_mva)[elems] * dt_h
    peaks = np.array([loading_pct[s:e, k].max() for s, e, k in zip(starts, ends, elems)])
    step = pd.Timedelta(hours=dt_h)
    table = pd.DataFrame(
        {
            "element": np.asarray(element_ids)[elems],
            "start_utc": time_utc[starts],
            "end_utc": time_utc[ends - 1] + step,
            "duration_h": (ends - starts) * dt_h,
            "peak_loading_pct": peaks,
            "energy_above_rating_mwh": energy,
        }
    )
    return table.sort_values(["start_utc", "element"], kind="stable").reset_index(drop=True)


class LoadingAccumulator:
    """Congestion metrics of many elements, fed one block at a time.

    Keeps per-element running figures (peak, overload steps, energy above
    rating) and the events of every block; events that run over a block
    boundary are joined, so the result equals `congestion_events` on the
    whole series while memory does not grow with the horizon.
    """

    def __init__(self, element_ids: np.ndarray, s_rated_mva: np.ndarray, dt_h: float):
        self.element_ids = np.asarray(element_ids)
        self.s_rated_mva = np.asarray(s_rated_mva, dtype=np.float64)
        self.dt_h = dt_h
        n = len(self.element_ids)
        self.peak_loading_pct = np.full(n, -np.inf)
        self.overload_steps = np.zeros(n, dtype=np.int64)
        self.energy_above_rating_mwh = np.zeros(n)
        self._events: list[pd.DataFrame] = []

    def add(self, loading_pct: np.ndarray, time_utc: pd.DatetimeIndex) -> None:
        """Take in one block ``[n_step, n_element]``."""
        self.peak_loading_pct = np.fmax(self.peak_loading_pct, np.nanmax(loading_pct, axis=0, initial=-np.inf))
        self.overload_steps += np.count_nonzero(loading_pct > OVERLOAD_PCT, axis=0)
        self.energy_above_rating_mwh += energy_above_rating_mwh(loading_pct, self.s_rated_mva, self.dt_h)
        events = congestion_events(loading_pct, time_utc, self.element_ids, self.s_rated_mva)
        if len(events):
            self._events.append(events)

    @property
    def overload_h(self) -> np.ndarray:
        return self.overload_steps * self.dt_h

    def events(self) -> pd.DataFrame:
        """All events, joined across block boundaries, sorted by start then element."""
        if not self._events:
            return congestion_events(np.zeros((0, 0)), pd.DatetimeIndex([], tz="UTC"), self.element_ids, self.s_rated_mva)
        table = pd.concat(self._events, ignore_index=True).sort_values(["element", "start_utc"], kind="stable")
        continues = (table.element.to_numpy()[1:] == table.element.to_numpy()[:-1]) & (
            table.start_utc.to_numpy()[1:] == table.end_utc.to_numpy()[:-1]
        )
        group = np.concatenate([[0], np.cumsum(~continues)])
        joined = table.groupby(group, sort=False).agg(
            element=("element", "first"),
            start_utc=("start_utc", "first"),
            end_utc=("end_utc", "last"),
            duration_h=("duration_h", "sum"),
            peak_loading_pct=("peak_loading_pct", "max"),
            energy_above_rating_mwh=("energy_above_rating_mwh", "sum"),
        )
        return joined.sort_values(["start_utc", "element"], kind="stable").reset_index(drop=True)

"""Batteries (home and neighbourhood) with rule-based dispatch.

Sign convention (pandapower load convention, DESIGN.md): ``net_load_kw`` is
consumption minus generation at the battery's connection; the battery power
``p_battery_kw`` is positive when charging (it adds load) and negative when
discharging, and ``p_grid_kw = net_load_kw + p_battery_kw``.

Energy bookkeeping per step of length ``dt`` (no self-discharge)::

    E[t] = E[t-1] + (eta_charge * p_charge - p_discharge / eta_discharge) * dt

The state of charge carries over between steps, so the dispatch runs in a
numba kernel, sequential in time and looping over batteries inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numba import njit

__all__ = [
    "BatteryFleet",
    "BatteryResult",
    "DispatchRule",
    "battery_dispatch",
    "home_batteries",
    "neighbourhood_batteries",
]


class DispatchRule(StrEnum):
    """How batteries decide their power.

    ``self_consumption``: charge on surplus (net load < 0), discharge on
    deficit (net load > 0).
    ``peak_shaving``: discharge the part of net load above ``threshold_kw``;
    recharge when net load is below it, never beyond the threshold.
    ``schedule``: follow a given power schedule, clipped to the limits.
    """

    self_consumption = "self_consumption"
    peak_shaving = "peak_shaving"
    schedule = "schedule"


_RULE_CODE = {DispatchRule.self_consumption: 0, DispatchRule.peak_shaving: 1, DispatchRule.schedule: 2}


@dataclass(frozen=True)
class BatteryFleet:
    """Parameters of ``n_battery`` batteries, each a ``[n_battery]`` array.

    Scalars are broadcast on construction.

    Attributes
    ----------
    e_max_kwh : numpy.ndarray
        Usable energy capacity [kWh].
    p_max_kw : numpy.ndarray
        Charge and discharge power limit at the AC side [kW].
    eta_charge, eta_discharge : numpy.ndarray
        One-way efficiencies [-]; 0.95 each gives ~90 % round trip, typical
        of Li-ion systems incl. inverter (NREL Annual Technology Baseline,
        "Utility-scale battery storage", 2023: 85-90 % round trip).
    soc_init_frac : numpy.ndarray
        State of charge at the start [-].
    soc_min_frac, soc_max_frac : numpy.ndarray
        Allowed SOC window [-].
    """

    e_max_kwh: np.ndarray
    p_max_kw: np.ndarray
    eta_charge: np.ndarray = 0.95
    eta_discharge: np.ndarray = 0.95
    soc_init_frac: np.ndarray = 0.5
    soc_min_frac: np.ndarray = 0.0
    soc_max_frac: np.ndarray = 1.0

    def __post_init__(self) -> None:
        names = ("e_max_kwh", "p_max_kw", "eta_charge", "eta_discharge", "soc_init_frac", "soc_min_frac", "soc_max_frac")
        arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(getattr(self, n), dtype=float)) for n in names))
        problems = []
        for name, arr in zip(names, arrays):
            arr = np.array(arr, dtype=float)  # own, contiguous copy
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
            if not np.all(np.isfinite(arr)):
                problems.append(f"{name} must be finite")
        if np.any(self.e_max_kwh < 0) or np.any(self.p_max_kw < 0):
            problems.append("e_max_kwh and p_max_kw must be >= 0")
        for name in ("eta_charge", "eta_discharge"):
            bad = (getattr(self, name) <= 0) | (getattr(self, name) > 1)
            if np.any(bad):
                problems.append(f"{name} must be in (0, 1] (battery {int(np.argmax(bad))}: {getattr(self, name)[bad][0]})")
        if np.any(self.soc_min_frac < 0) or np.any(self.soc_max_frac > 1) or np.any(self.soc_min_frac > self.soc_max_frac):
            problems.append("need 0 <= soc_min_frac <= soc_max_frac <= 1")
        if np.any((self.soc_init_frac < self.soc_min_frac) | (self.soc_init_frac > self.soc_max_frac)):
            problems.append("soc_init_frac must lie within [soc_min_frac, soc_max_frac]")
        if problems:
            raise ValueError("BatteryFleet: " + "; ".join(problems))

    @property
    def n_battery(self) -> int:
        """Number of batteries."""
        return self.e_max_kwh.size


def home_batteries(n: int, **overrides) -> BatteryFleet:
    """``n`` home batteries of 10 kWh / 5 kW.

    A common Dutch residential size (e.g. 5-10 kWh systems sold with PV,
    Milieu Centraal "Thuisbatterij", 2024); override any field.
    """
    params = dict(e_max_kwh=10.0, p_max_kw=5.0, soc_min_frac=0.05, soc_init_frac=0.5)
    params.update(overrides)
    params = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in params.items()}
    return BatteryFleet(**params)


def neighbourhood_batteries(n: int, **overrides) -> BatteryFleet:
    """``n`` neighbourhood batteries of 400 kWh / 200 kW.

    The size class of Dutch "buurtbatterij" pilots next to an LV
    transformer (e.g. Enexis/Liander pilots of 200-500 kWh, C-rate ~0.5);
    override any field.
    """
    params = dict(e_max_kwh=400.0, p_max_kw=200.0, soc_min_frac=0.05, soc_init_frac=0.5)
    params.update(overrides)
    params = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in params.items()}
    return BatteryFleet(**params)


@dataclass(frozen=True)
class BatteryResult:
    """Output of :func:`battery_dispatch`; arrays ``[n_step, n_battery]``.

    Attributes
    ----------
    p_battery_kw : numpy.ndarray
        Battery power at the connection, + charging, - discharging [kW].
    p_grid_kw : numpy.ndarray
        Net load after the battery [kW].
    soc_frac : numpy.ndarray
        State of charge at the end of each step [-].
    e_kwh : numpy.ndarray
        Stored energy at the end of each step [kWh]; pass the last row as
        ``e_init_kwh`` to chain blocks exactly (``soc_frac * e_max_kwh`` may
        differ from it in the last bit).
    """

    p_battery_kw: np.ndarray
    p_grid_kw: np.ndarray
    soc_frac: np.ndarray
    e_kwh: np.ndarray | None = None

    @property
    def p_charge_kw(self) -> np.ndarray:
        """Charging power [kW] (>= 0)."""
        return np.maximum(self.p_battery_kw, 0.0)

    @property
    def p_discharge_kw(self) -> np.ndarray:
        """Discharging power [kW] (>= 0)."""
        return np.maximum(-self.p_battery_kw, 0.0)


@njit(cache=True)
def _battery_kernel(rule, net, target, e_max, p_max, eta_c, eta_d, e0, e_lo, e_hi, dt_h):
    n_step, n_bat = net.shape
    p_out = np.zeros((n_step, n_bat))
    e_out = np.zeros((n_step, n_bat))
    # steps outer, batteries inner: the [n_step, n_battery] arrays are read and
    # written row by row (contiguous); each battery's arithmetic is unchanged
    e_now = e0.copy()
    for t in range(n_step):
        for b in range(n_bat):
            e = e_now[b]
            if rule == 0:  # self-consumption: target is ignored
                want = -net[t, b]
            elif rule == 1:  # peak shaving: target is the threshold
                want = target[t, b] - net[t, b]
            else:  # schedule: target is the requested power
                want = target[t, b]
            if want > 0.0:
                room = (e_hi[b] - e) / (eta_c[b] * dt_h)
                p = min(want, p_max[b], max(room, 0.0))
                e += eta_c[b] * p * dt_h
            else:
                avail = (e - e_lo[b]) * eta_d[b] / dt_h
                p = -min(-want, p_max[b], max(avail, 0.0))
                e += p / eta_d[b] * dt_h
            p_out[t, b] = p
            e_out[t, b] = e
            e_now[b] = e
    return p_out, e_out


def battery_dispatch(
    net_load_kw,
    fleet: BatteryFleet,
    rule: DispatchRule | str = DispatchRule.self_consumption,
    *,
    dt_h: float = 0.25,
    threshold_kw=None,
    schedule_kw=None,
    soc_init_frac=None,
    e_init_kwh=None,
) -> BatteryResult:
    """Dispatch many batteries over a horizon.

    Parameters
    ----------
    net_load_kw : array_like
        Net load at each battery's connection [kW], ``[n_step, n_battery]``
        (consumption positive); used by ``self_consumption`` and
        ``peak_shaving``.
    fleet : BatteryFleet
        Battery parameters.
    rule : DispatchRule or str
        Dispatch rule.
    dt_h : float
        Step length [h].
    threshold_kw : array_like, optional
        Peak-shaving threshold [kW], broadcastable to ``[n_step, n_battery]``
        (required for ``peak_shaving``).
    schedule_kw : array_like, optional
        Requested battery power, + charge [kW], ``[n_step, n_battery]``
        (required for ``schedule``).
    soc_init_frac : array_like, optional
        Starting SOC [-] overriding ``fleet.soc_init_frac``; pass the last
        row of the previous block's ``soc_frac`` to chain blocks.
    e_init_kwh : array_like, optional
        Starting stored energy [kWh], ``[n_battery]``, overriding both SOC
        options: the last row of the previous block's ``e_kwh`` continues a
        dispatch bit for bit.

    Returns
    -------
    BatteryResult
    """
    rule = DispatchRule(rule)
    net = np.asarray(net_load_kw, dtype=float)
    net = net[:, None] if net.ndim == 1 else net
    shape = (net.shape[0], fleet.n_battery)
    net = np.ascontiguousarray(np.broadcast_to(net, shape))
    if not dt_h > 0:
        raise ValueError(f"dt_h must be > 0 [h] (got {dt_h})")
    if rule is DispatchRule.peak_shaving:
        if threshold_kw is None:
            raise ValueError("rule 'peak_shaving' needs threshold_kw [kW]")
        target = np.broadcast_to(np.asarray(threshold_kw, dtype=float), shape)
    elif rule is DispatchRule.schedule:
        if schedule_kw is None:
            raise ValueError("rule 'schedule' needs schedule_kw [kW], + charging")
        target = np.broadcast_to(np.asarray(schedule_kw, dtype=float), shape)
    else:
        target = np.zeros(shape)
    e_max = fleet.e_max_kwh
    if e_init_kwh is None:
        soc0 = fleet.soc_init_frac if soc_init_frac is None else np.broadcast_to(np.asarray(soc_init_frac, float), (fleet.n_battery,))
        if np.any(soc0 < fleet.soc_min_frac - 1e-9) or np.any(soc0 > fleet.soc_max_frac + 1e-9):
            raise ValueError("soc_init_frac must lie within [soc_min_frac, soc_max_frac]")
        e0 = soc0 * e_max
    else:
        e0 = np.array(np.broadcast_to(np.asarray(e_init_kwh, float), (fleet.n_battery,)))
        tolerance_kwh = 1e-9 * np.maximum(e_max, 1.0)
        if np.any(e0 < fleet.soc_min_frac * e_max - tolerance_kwh) or np.any(e0 > fleet.soc_max_frac * e_max + tolerance_kwh):
            raise ValueError(f"e_init_kwh must lie within [soc_min_frac, soc_max_frac] * e_max_kwh (got {e0})")
    p, e = _battery_kernel(
        _RULE_CODE[rule], net, np.ascontiguousarray(target), e_max, fleet.p_max_kw,
        fleet.eta_charge, fleet.eta_discharge, np.ascontiguousarray(e0),
        fleet.soc_min_frac * e_max, fleet.soc_max_frac * e_max, float(dt_h),
    )
    soc = np.divide(e, e_max, out=np.zeros_like(e), where=e_max > 0)
    return BatteryResult(p_battery_kw=p, p_grid_kw=net + p, soc_frac=soc, e_kwh=e)

"""Space heating, domestic hot water and heat pumps.

* :func:`space_heat_kw` — degree-hour method per building archetype.
* :func:`dhw_heat_kw` — domestic hot water (DHW) as a daily profile.
* :func:`heat_pump_cop` — COP from source and sink temperature
  (Staffell et al. 2012 air-source regression).
* :func:`heat_pump_electric_kw` — electricity of compressor and backup,
  heat delivered and COP of all-electric and hybrid heat pumps.
* :func:`heat_pump_group_electric_kw` — the chain space heat -> DHW ->
  heat-pump electricity fused in one pass for many homes (the per-block
  path of a city run; same model, equal to rounding, only the grid
  electricity returned; what depends on the step alone is computed once
  per step and cached per block); :class:`HeatPumpHomes` holds its
  per-home parameters for a run's repeated calls.

Parameters live in the catalogue (``models/building_archetypes.yaml``,
``models/heat_pumps.yaml``); read them with :func:`load_building_archetype`
and :func:`load_heat_pump`. All functions are deterministic and broadcast over
``[n_step, n_connection]``: pass ``t_amb_degc`` as ``[n_step]`` (one weather
series for all buildings) or ``[n_step, n_connection]``.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache

import numpy as np
import pandas as pd
from numba import njit, prange
from ruamel.yaml import YAML
from scipy.special import i0e

from energy_sim.profiles.local_time import local_wall_ns

__all__ = [
    "BuildingArchetype",
    "HeatPump",
    "HeatPumpHomes",
    "HeatPumpKind",
    "HeatPumpResult",
    "building_archetypes",
    "dhw_heat_kw",
    "dhw_shape",
    "heat_pump_cop",
    "heat_pump_electric_kw",
    "heat_pump_group_electric_kw",
    "heat_pumps",
    "load_building_archetype",
    "load_heat_pump",
    "space_heat_kw",
    "supply_temperature_degc",
]

HOURS_PER_YEAR = 8766.0  # mean Gregorian year [h]
KELVIN = 273.15


@dataclass(frozen=True)
class BuildingArchetype:
    """Heat-demand parameters of a building type (see ``models/building_archetypes.yaml``).

    Attributes
    ----------
    name : str
        Catalogue key.
    h_w_k : float
        Heat-loss coefficient, transmission + ventilation [W/K].
    t_base_degc : float
        Heating base (balance) temperature [degC].
    dhw_kwh_per_year : float
        Domestic hot water heat demand [kWh/yr].
    description, source : str
        What it is and where the numbers come from.
    """

    name: str
    h_w_k: float
    t_base_degc: float
    dhw_kwh_per_year: float
    description: str = ""
    source: str = ""


class HeatPumpKind(StrEnum):
    """``all_electric``: heat pump + electric element; ``hybrid``: heat pump + gas boiler."""

    all_electric = "all_electric"
    hybrid = "hybrid"


@dataclass(frozen=True)
class HeatPump:
    """Heat-pump parameters (see ``models/heat_pumps.yaml`` for sources).

    Attributes
    ----------
    name : str
        Catalogue key.
    kind : HeatPumpKind
        All-electric or hybrid.
    p_heat_nom_kw : float
        Heat output at the rating point ``t_rated_degc`` / W35 [kW].
    t_rated_degc : float
        Outdoor temperature of the rating point [degC].
    capacity_slope_per_k : float
        Relative loss of heat capacity per kelvin colder air [1/K].
    capacity_min_frac : float
        Floor of the relative capacity [-].
    cop_a, cop_b, cop_c : float
        COP regression ``a + b dT + c dT²`` with dT in [K].
    cop_scale : float
        Multiplier on the regression [-].
    t_supply_design_degc, t_supply_min_degc : float
        Heating-curve supply temperature at ``t_design_degc`` and at the base
        temperature [degC].
    t_design_degc : float
        Outdoor design temperature [degC].
    t_dhw_degc : float
        DHW storage temperature [degC].
    p_backup_max_kw : float
        Electric element power [kW] (0 for hybrids).
    t_switch_degc : float or None
        Hybrids: below this outdoor temperature the boiler takes all space heat.
    boiler_efficiency : float or None
        Hybrids: boiler heat per unit of gas (upper heating value) [-].
    dhw_by_heat_pump : bool
        Whether the heat pump makes the DHW (else the boiler does).
    """

    name: str
    kind: HeatPumpKind
    p_heat_nom_kw: float
    t_rated_degc: float = 7.0
    capacity_slope_per_k: float = 0.018
    capacity_min_frac: float = 0.4
    cop_a: float = 6.81
    cop_b: float = -0.121
    cop_c: float = 0.000630
    cop_scale: float = 1.0
    t_supply_design_degc: float = 55.0
    t_supply_min_degc: float = 35.0
    t_design_degc: float = -10.0
    t_dhw_degc: float = 55.0
    p_backup_max_kw: float = 0.0
    t_switch_degc: float | None = None
    boiler_efficiency: float | None = None
    dhw_by_heat_pump: bool = True
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", HeatPumpKind(self.kind))
        problems = []
        if not self.p_heat_nom_kw > 0:
            problems.append(f"p_heat_nom_kw must be > 0 (got {self.p_heat_nom_kw})")
        if self.p_backup_max_kw < 0:
            problems.append(f"p_backup_max_kw must be >= 0 (got {self.p_backup_max_kw})")
        if self.kind is HeatPumpKind.hybrid and not (self.boiler_efficiency and 0 < self.boiler_efficiency <= 1.1):
            problems.append(f"a hybrid needs boiler_efficiency in (0, 1.1] (got {self.boiler_efficiency})")
        if self.kind is HeatPumpKind.all_electric and not self.dhw_by_heat_pump:
            problems.append("an all_electric heat pump must make the DHW (dhw_by_heat_pump: true)")
        if problems:
            raise ValueError(f"heat pump {self.name!r}: " + "; ".join(problems))


@dataclass(frozen=True)
class HeatPumpResult:
    """Output of :func:`heat_pump_electric_kw`; every array ``[n_step, n_connection]``.

    Attributes
    ----------
    p_compressor_kw : numpy.ndarray
        Compressor electricity [kW].
    p_backup_kw : numpy.ndarray
        Electric element electricity (= its heat) [kW].
    q_heat_pump_kw : numpy.ndarray
        Heat from the heat pump [kW].
    q_backup_kw : numpy.ndarray
        Heat from the electric element [kW].
    q_boiler_kw : numpy.ndarray
        Heat from the gas boiler (hybrids) [kW].
    p_gas_kw : numpy.ndarray
        Gas input of the boiler, upper heating value [kW].
    q_unserved_kw : numpy.ndarray
        Heat demand no source could cover [kW].
    cop : numpy.ndarray
        COP of the heat pump at the space-heating supply temperature [-]
        (defined whether or not it runs).
    """

    p_compressor_kw: np.ndarray
    p_backup_kw: np.ndarray
    q_heat_pump_kw: np.ndarray
    q_backup_kw: np.ndarray
    q_boiler_kw: np.ndarray
    p_gas_kw: np.ndarray
    q_unserved_kw: np.ndarray
    cop: np.ndarray

    @property
    def p_electric_kw(self) -> np.ndarray:
        """Total electricity drawn from the grid [kW]."""
        return self.p_compressor_kw + self.p_backup_kw

    @property
    def q_delivered_kw(self) -> np.ndarray:
        """Total heat delivered [kW]."""
        return self.q_heat_pump_kw + self.q_backup_kw + self.q_boiler_kw


def _read_catalogue(filename: str) -> dict:
    path = importlib.resources.files("energy_sim.models") / filename
    with path.open("r", encoding="utf-8") as fh:
        data = YAML(typ="safe").load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"catalogue file {filename} must be a mapping of name -> parameters")
    return data


def _build(cls: type, name: str, entry: dict, filename: str):
    known = {f.name for f in fields(cls)} - {"name"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ValueError(f"{filename}: {name}: unknown key(s) {unknown}; known keys are {sorted(known)}")
    return cls(name=name, **entry)


@lru_cache(maxsize=1)
def building_archetypes() -> dict[str, BuildingArchetype]:
    """All building archetypes of ``models/building_archetypes.yaml``."""
    data = _read_catalogue("building_archetypes.yaml")
    return {k: _build(BuildingArchetype, k, v, "building_archetypes.yaml") for k, v in data.items()}


@lru_cache(maxsize=1)
def heat_pumps() -> dict[str, HeatPump]:
    """All heat pumps of ``models/heat_pumps.yaml``."""
    data = _read_catalogue("heat_pumps.yaml")
    return {k: _build(HeatPump, k, v, "heat_pumps.yaml") for k, v in data.items()}


def _lookup(table: dict, name: str, what: str):
    try:
        return table[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, table, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown {what} {name!r}{hint} (known: {sorted(table)})") from None


def load_building_archetype(name: str) -> BuildingArchetype:
    """Building archetype ``name`` from the catalogue."""
    return _lookup(building_archetypes(), name, "building archetype")


def load_heat_pump(name: str) -> HeatPump:
    """Heat pump ``name`` from the catalogue."""
    return _lookup(heat_pumps(), name, "heat pump")


def _column(t_amb_degc) -> np.ndarray:
    """[n_step] -> [n_step, 1]; 2-d arrays pass through."""
    t = np.asarray(t_amb_degc, dtype=float)
    return t[:, None] if t.ndim == 1 else t


def space_heat_kw(t_amb_degc, h_w_k, t_base_degc) -> np.ndarray:
    """Space-heating demand by the degree-hour method.

    ``q = H max(0, T_base - T_amb) / 1000`` (CIBSE TM41:2006, "Degree-days:
    theory and application", eq. 2.1 in hourly form).

    Parameters
    ----------
    t_amb_degc : array_like
        Outdoor temperature [degC], ``[n_step]`` or ``[n_step, n_building]``.
    h_w_k : array_like
        Heat-loss coefficient per building [W/K], ``[n_building]`` or scalar.
    t_base_degc : array_like
        Base temperature per building [degC], ``[n_building]`` or scalar.

    Returns
    -------
    numpy.ndarray
        Heat demand [kW], ``[n_step, n_building]``.
    """
    t = _column(t_amb_degc)
    h = np.atleast_1d(np.asarray(h_w_k, dtype=float))
    tb = np.atleast_1d(np.asarray(t_base_degc, dtype=float))
    if np.any(h < 0):
        raise ValueError(f"h_w_k must be >= 0 [W/K] (got min {h.min()})")
    return h * np.maximum(tb - t, 0.0) / 1000.0


def dhw_shape(time_utc: pd.DatetimeIndex) -> np.ndarray:
    """Normalised DHW draw profile (mean 1 over a day and over a year).

    Morning shower peak around 07:30 and a broader evening peak around 19:30
    local time, as in the tapping cycles of EN 16147 (profile M) and the
    IEA-SHC Task 26 DHW statistics; ~+-10 % seasonal amplitude (cold mains
    water in winter; Task 26: winter/summer ratio ~1.2). The shape is an
    approximation for aggregate DHW; a storage tank decouples the heat pump
    from the draws.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Timezone-aware time stamps.

    Returns
    -------
    numpy.ndarray
        Shape factor [-], ``[n_step]``.
    """
    return _dhw_shape(time_utc).copy()


def _dhw_shape(time_utc: pd.DatetimeIndex) -> np.ndarray:
    """:func:`dhw_shape`, read-only; cached for evenly spaced indexes (a city run asks for the same
    block once per wijk and asset kind)."""
    if not isinstance(time_utc, pd.DatetimeIndex) or time_utc.tz is None:
        raise ValueError("time_utc must be a timezone-aware pandas.DatetimeIndex (use tz='UTC')")
    ns = time_utc.asi8
    if ns.size > 1:
        steps = np.diff(ns)
        if np.all(steps == steps[0]):
            return _dhw_shape_even(int(ns[0]), int(ns.size), int(steps[0]))
    return _dhw_shape_of(ns)


@lru_cache(maxsize=64)
def _dhw_shape_even(t0_ns: int, n_step: int, step_ns: int) -> np.ndarray:
    shape = _dhw_shape_of(t0_ns + step_ns * np.arange(n_step, dtype=np.int64))
    shape.flags.writeable = False
    return shape


_NS_PER_DAY = 86_400 * 10**9


def _dhw_shape_of(utc_ns: np.ndarray) -> np.ndarray:
    """:func:`dhw_shape` of the UTC instants `utc_ns` [int64 ns]."""
    # local clock from the wall-clock nanoseconds, then integer arithmetic
    # (pandas' field accessors cost ~0.1 ms each)
    wall_ns = local_wall_ns(utc_ns)
    day_code = wall_ns // _NS_PER_DAY  # local date as days since 1970-01-01
    sec = (wall_ns - day_code * _NS_PER_DAY) // 10**9
    hour_h = sec // 3600 + (sec % 3600 // 60) / 60.0  # hour + minute / 60, seconds ignored
    date = day_code.astype("datetime64[D]")
    doy = (date - date.astype("datetime64[Y]")).astype(np.int64) + 1
    # von Mises bumps; daily mean of exp(k (cos x - 1)) is i0e(k)
    base, bumps = 0.25, ((1.6, 7.5, 10.0), (1.0, 19.5, 3.0), (0.3, 13.0, 2.0))
    day = np.full(hour_h.shape, base)
    mean = base
    for amp, mu, kappa in bumps:
        day += amp * np.exp(kappa * (np.cos(2 * np.pi * (hour_h - mu) / 24.0) - 1.0))
        mean += amp * i0e(kappa)
    season = 1.0 + 0.1 * np.cos(2 * np.pi * (doy - 15) / 365.2425)
    return day / mean * season


def dhw_heat_kw(time_utc: pd.DatetimeIndex, dhw_kwh_per_year) -> np.ndarray:
    """DHW heat demand [kW], ``[n_step, n_connection]``.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Timezone-aware time stamps.
    dhw_kwh_per_year : array_like
        Annual DHW heat per connection [kWh], ``[n_connection]``.
    """
    e = np.atleast_1d(np.asarray(dhw_kwh_per_year, dtype=float))
    return _dhw_shape(time_utc)[:, None] * (e / HOURS_PER_YEAR)[None, :]


def heat_pump_cop(t_source_degc, t_sink_degc, heat_pump: HeatPump | None = None) -> np.ndarray:
    """Coefficient of performance of an air-source heat pump.

    ``COP = a + b dT + c dT²`` with ``dT = T_sink - T_source`` held within
    [15, 80] K; a, b, c from Staffell et al. (2012), "A review of domestic
    heat pumps", Energy Environ. Sci. 5, 9291 (ASHP: 6.81, -0.121, 0.000630;
    fitted for 15-60 K). The result is multiplied by ``cop_scale`` and never
    below 1 (the controller would use direct heating instead). On [15, 80] K
    the fit stays between 1.16 and 5.17, well below the Carnot COP
    ``T_sink / dT``.

    Parameters
    ----------
    t_source_degc : array_like
        Source (outdoor air) temperature [degC].
    t_sink_degc : array_like
        Sink (supply water) temperature [degC].
    heat_pump : HeatPump, optional
        Supplies the coefficients; default the Staffell ASHP fit.

    Returns
    -------
    numpy.ndarray
        COP [-].
    """
    hp = heat_pump if heat_pump is not None else _STAFFELL
    dt = np.clip(np.asarray(t_sink_degc, dtype=float) - np.asarray(t_source_degc, dtype=float), 15.0, 80.0)
    cop = hp.cop_scale * (hp.cop_a + hp.cop_b * dt + hp.cop_c * dt * dt)
    return np.maximum(cop, 1.0)


_STAFFELL = HeatPump(name="staffell_ashp", kind=HeatPumpKind.all_electric, p_heat_nom_kw=1.0)


def supply_temperature_degc(t_amb_degc, heat_pump: HeatPump, t_base_degc=15.5) -> np.ndarray:
    """Weather-compensated supply temperature (heating curve) [degC].

    Linear from ``t_supply_design_degc`` at ``t_design_degc`` to
    ``t_supply_min_degc`` at the base temperature, held outside that range.
    """
    t = np.asarray(t_amb_degc, dtype=float)
    tb = np.asarray(t_base_degc, dtype=float)
    frac = np.clip((tb - t) / (tb - heat_pump.t_design_degc), 0.0, 1.0)
    return heat_pump.t_supply_min_degc + frac * (heat_pump.t_supply_design_degc - heat_pump.t_supply_min_degc)


def heat_pump_electric_kw(
    heat_demand_kw,
    t_amb_degc,
    heat_pump: HeatPump | str,
    *,
    dhw_kw=0.0,
    t_base_degc=15.5,
    n_units=1.0,
) -> HeatPumpResult:
    """Electricity, heat and COP of heat pumps serving space heat and DHW.

    Per step: capacity ``Q_max = n P_nom max(f_min, 1 - s (T_rated - T_amb))``;
    the heat pump serves the demand up to ``Q_max`` (space heat and DHW in
    proportion, each at its own COP: space at the heating-curve supply
    temperature, DHW at ``t_dhw_degc``); the rest goes to the electric
    element up to ``p_backup_max_kw`` (all-electric) or to the gas boiler
    (hybrid, which also takes all space heat below ``t_switch_degc`` and the
    DHW unless ``dhw_by_heat_pump``). Whatever is left is reported unserved.
    Heat balance: ``q_heat_pump + q_backup + q_boiler + q_unserved = demand``.

    Parameters
    ----------
    heat_demand_kw : array_like
        Space-heating demand [kW], ``[n_step, n_connection]`` (or ``[n_step]``).
    t_amb_degc : array_like
        Outdoor temperature [degC], ``[n_step]`` or ``[n_step, n_connection]``.
    heat_pump : HeatPump or str
        Parameters, or a catalogue name.
    dhw_kw : array_like
        DHW heat demand [kW], broadcastable to ``heat_demand_kw``.
    t_base_degc : array_like
        Building base temperature for the heating curve [degC].
    n_units : array_like
        Number of identical units per column (scales capacity and backup) [-].

    Returns
    -------
    HeatPumpResult
    """
    hp = load_heat_pump(heat_pump) if isinstance(heat_pump, str) else heat_pump
    q_space = np.asarray(heat_demand_kw, dtype=float)
    q_space = q_space[:, None] if q_space.ndim == 1 else q_space
    t = _column(t_amb_degc)
    q_dhw = np.broadcast_to(np.asarray(dhw_kw, dtype=float), np.broadcast_shapes(q_space.shape, t.shape))
    q_space = np.broadcast_to(q_space, q_dhw.shape)
    if np.any(q_space < 0) or np.any(q_dhw < 0):
        raise ValueError("heat_demand_kw and dhw_kw must be >= 0 [kW]")
    n = np.asarray(n_units, dtype=float)

    cop_space = heat_pump_cop(t, supply_temperature_degc(t, hp, t_base_degc), hp)
    cop_dhw = heat_pump_cop(t, hp.t_dhw_degc, hp)
    cap_kw = n * hp.p_heat_nom_kw * np.maximum(hp.capacity_min_frac, 1.0 - hp.capacity_slope_per_k * (hp.t_rated_degc - t))

    backup_kw = n * hp.p_backup_max_kw
    hybrid = hp.kind is HeatPumpKind.hybrid
    switch_degc = hp.t_switch_degc if (hybrid and hp.t_switch_degc is not None) else -np.inf
    shape = np.broadcast_shapes(q_space.shape, t.shape, np.shape(cop_space), np.shape(cap_kw), np.shape(backup_kw))
    # the kernel works on 2-d views; other ranks (scalars, 3-d) are folded and restored
    shape2 = shape if len(shape) == 2 else (int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]) if shape else (1, 1)

    def view(x):
        b = np.broadcast_to(np.asarray(x, dtype=np.float64), shape)
        return b if b.shape == shape2 else np.reshape(b, shape2)

    outputs = _heat_pump_kernel(
        view(q_space), view(q_dhw), view(t), view(cop_space), view(cop_dhw), view(cap_kw), view(backup_kw),
        float(switch_degc), bool(hp.dhw_by_heat_pump), bool(hybrid),
    )
    q_hp, p_comp, q_backup, q_boiler, q_unserved = (o.reshape(shape) for o in outputs)
    p_gas = q_boiler / hp.boiler_efficiency if hybrid else np.zeros(shape)
    return HeatPumpResult(
        p_compressor_kw=p_comp,
        p_backup_kw=q_backup,
        q_heat_pump_kw=q_hp,
        q_backup_kw=q_backup,
        q_boiler_kw=q_boiler,
        p_gas_kw=p_gas,
        q_unserved_kw=q_unserved,
        cop=np.broadcast_to(cop_space, q_hp.shape),
    )


@njit(cache=True, fastmath=False)
def _heat_pump_kernel(q_space, q_dhw, t, cop_space, cop_dhw, cap_kw, backup_max_kw, switch_degc, dhw_by_hp, hybrid):
    """Element-wise dispatch of :func:`heat_pump_electric_kw` in one pass (no temporaries)."""
    n_step, n_col = q_space.shape
    q_hp = np.empty((n_step, n_col))
    p_comp = np.empty((n_step, n_col))
    q_backup = np.zeros((n_step, n_col))
    q_boiler = np.zeros((n_step, n_col))
    q_unserved = np.empty((n_step, n_col))
    for k in range(n_step):
        for j in range(n_col):
            qs = q_space[k, j]
            qd = q_dhw[k, j]
            hp_space = 0.0 if t[k, j] < switch_degc else qs
            hp_dhw = qd if dhw_by_hp else 0.0
            want = hp_space + hp_dhw
            q = min(want, cap_kw[k, j])
            share = q / want if want > 0.0 else 0.0
            q_hp[k, j] = q
            p_comp[k, j] = share * (hp_space / cop_space[k, j] + hp_dhw / cop_dhw[k, j])
            rest = qs + qd - q
            if hybrid:
                q_boiler[k, j] = rest
                q_unserved[k, j] = 0.0
            else:
                b = min(rest, backup_max_kw[k, j])
                q_backup[k, j] = b
                q_unserved[k, j] = rest - b
    return q_hp, p_comp, q_backup, q_boiler, q_unserved


@dataclass(frozen=True, eq=False)  # arrays: compared and hashed by identity
class HeatPumpHomes:
    """Homes with heat pumps of one type, their parameters checked and laid out once.

    The per-home half of :func:`heat_pump_group_electric_kw`: a run holds one
    per group of homes and calls :meth:`electric_kw` every block, without
    converting and checking the same parameters again (build it with
    :meth:`of`).

    Attributes
    ----------
    heat_pump : HeatPump
        Parameters of the heat pumps.
    h_w_k : numpy.ndarray
        Heat-loss coefficient per home [W/K], ``[n_home]`` float64.
    t_bases_degc : numpy.ndarray
        The distinct heating base temperatures [degC], ``[n_base]``.
    base_of_home : numpy.ndarray
        Each home's base temperature, an index into ``t_bases_degc``, ``[n_home]`` int64.
    dhw_mean_kw : numpy.ndarray
        Mean DHW heat per home [kW], ``[n_home]``.
    n_units : numpy.ndarray
        Identical units per home [-], ``[n_home]``.
    """

    heat_pump: HeatPump
    h_w_k: np.ndarray
    t_bases_degc: np.ndarray
    base_of_home: np.ndarray
    dhw_mean_kw: np.ndarray
    n_units: np.ndarray

    @classmethod
    def of(cls, h_w_k, t_base_degc, dhw_kwh_per_year, heat_pump: HeatPump | str, n_units=1.0) -> HeatPumpHomes:
        """The homes with heat-loss coefficients `h_w_k`; the other parameters as in
        :func:`heat_pump_group_electric_kw`."""
        hp = load_heat_pump(heat_pump) if isinstance(heat_pump, str) else heat_pump
        h = np.atleast_1d(np.asarray(h_w_k, dtype=np.float64))
        if h.ndim != 1 or np.any(h < 0):
            raise ValueError(f"h_w_k must be a 1-d array of values >= 0 [W/K] (got shape {h.shape})")
        n_home = h.size
        t_base, dhw_kwh, n = (np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64), (n_home,)))
                              for x in (t_base_degc, dhw_kwh_per_year, n_units))
        if np.any(dhw_kwh < 0):
            raise ValueError("dhw_kwh_per_year must be >= 0 [kWh]")
        if np.ndim(t_base_degc) == 0 or n_home == 0:
            t_bases, base_of_home = t_base[:1], np.zeros(n_home, np.int64)
        else:
            t_bases, base_of_home = np.unique(t_base, return_inverse=True)
        return cls(hp, np.ascontiguousarray(h), np.ascontiguousarray(t_bases),
                   np.ascontiguousarray(base_of_home, dtype=np.int64).ravel(), dhw_kwh / HOURS_PER_YEAR, n)

    @classmethod
    def concat(cls, parts: list[HeatPumpHomes]) -> HeatPumpHomes:
        """The homes of `parts` (heat pumps of one type) side by side: one `electric_kw` call computes
        them all (what each part's own call returns, in its columns)."""
        if not parts or any(p.heat_pump != parts[0].heat_pump for p in parts):
            raise ValueError("HeatPumpHomes.concat needs at least one part, all with the same heat pump")
        t_base = np.concatenate([p.t_bases_degc[p.base_of_home] for p in parts])
        if t_base.size:
            t_bases, base_of_home = np.unique(t_base, return_inverse=True)
        else:
            t_bases, base_of_home = parts[0].t_bases_degc, np.zeros(0, np.int64)

        def joined(field: str) -> np.ndarray:
            return np.ascontiguousarray(np.concatenate([getattr(p, field) for p in parts]))

        return cls(parts[0].heat_pump, joined("h_w_k"), np.ascontiguousarray(t_bases),
                   np.ascontiguousarray(base_of_home, dtype=np.int64).ravel(), joined("dhw_mean_kw"), joined("n_units"))

    def electric_kw(self, time_utc: pd.DatetimeIndex, t_amb_degc, *, dtype: type = np.float32,
                    out: np.ndarray | None = None) -> np.ndarray:
        """Compressor plus backup-element electricity [kW], ``[n_step, n_home]``; see
        :func:`heat_pump_group_electric_kw` for the parameters."""
        hp = self.heat_pump
        t = np.ascontiguousarray(np.asarray(t_amb_degc, dtype=np.float64).ravel())
        shape = _dhw_shape(time_utc)
        if shape.size != t.size:
            raise ValueError(f"t_amb_degc has {t.size} steps but time_utc {shape.size}")
        n_home = self.h_w_k.size
        if out is None:
            out = np.empty((t.size, n_home), dtype=dtype)
        elif out.shape != (t.size, n_home):
            raise ValueError(f"out has shape {out.shape}, expected {(t.size, n_home)}")
        kw_per_w_k, hp_kw_per_w_k, inv_cop_space, inv_cop_dhw, cap_per_unit = _group_steps(
            hp, t.tobytes(), self.t_bases_degc.tobytes())
        _group_kernel(
            out, kw_per_w_k, hp_kw_per_w_k, inv_cop_space, self.base_of_home, shape, inv_cop_dhw,
            cap_per_unit, self.h_w_k, self.dhw_mean_kw, self.n_units, 1.0 if hp.dhw_by_heat_pump else 0.0,
            0.0 if hp.kind is HeatPumpKind.hybrid else float(hp.p_backup_max_kw),
        )
        return out


def heat_pump_group_electric_kw(
    time_utc: pd.DatetimeIndex,
    t_amb_degc,
    h_w_k,
    t_base_degc,
    dhw_kwh_per_year,
    heat_pump: HeatPump | str,
    *,
    n_units=1.0,
    dtype: type = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Grid electricity of many heat-pump homes: space heat, DHW and dispatch fused.

    The same model as ``heat_pump_electric_kw(space_heat_kw(t, h_w_k, t_base),
    t, heat_pump, dhw_kw=dhw_heat_kw(time_utc, dhw_kwh_per_year),
    t_base_degc=t_base).p_electric_kw`` (equal to rounding): what the engine
    needs per block for thousands of homes, where the general function
    spends its time allocating its eight outputs. What depends only on the
    step and the base temperature (COPs, capacity, degree-hours, the DHW
    shape) is computed once per step and distinct base temperature, and
    cached for the next call with the same block (the engine calls once per
    wijk); the per-home pass is a few multiplications, without temporaries.
    Called every block for the same homes, ``HeatPumpHomes.of(...)`` once
    and its ``electric_kw`` per block skip re-checking the homes' parameters.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Timezone-aware time stamps of the block, ``[n_step]``.
    t_amb_degc : array_like
        Outdoor temperature [degC], ``[n_step]``.
    h_w_k : array_like
        Heat-loss coefficient per home [W/K], ``[n_home]``.
    t_base_degc : float or array_like
        Heating base temperature [degC], scalar or ``[n_home]``; also the
        base of the heating curve.
    dhw_kwh_per_year : float or array_like
        Annual DHW heat [kWh], scalar or ``[n_home]``.
    heat_pump : HeatPump or str
        Parameters, or a catalogue name.
    n_units : float or array_like
        Identical units per home [-], scalar or ``[n_home]``.
    dtype : numpy dtype
        Output dtype (computation is float64).
    out : numpy.ndarray, optional
        Preallocated ``[n_step, n_home]`` output to fill (reused buffers
        avoid page faults when streaming blocks).

    Returns
    -------
    numpy.ndarray
        Compressor plus backup-element electricity [kW], ``[n_step, n_home]``.
    """
    homes = HeatPumpHomes.of(h_w_k, t_base_degc, dhw_kwh_per_year, heat_pump, n_units)
    return homes.electric_kw(time_utc, t_amb_degc, dtype=dtype, out=out)


@lru_cache(maxsize=32)
def _group_steps(hp: HeatPump, t_amb_bytes: bytes, t_bases_bytes: bytes) -> tuple[np.ndarray, ...]:
    """What :func:`heat_pump_group_electric_kw` needs per step and base temperature (one per group as a
    rule), the same for every home: space heat per W/K of heat loss [kW/(W/K)] (``[n_step, n_base]``), the
    part the heat pump serves (hybrids: none below the switch temperature), 1 / COP at the heating-curve
    supply temperature (``[n_step, n_base]``), 1 / COP of DHW and the capacity per unit [kW] (``[n_step]``).

    Cached on the bytes of the temperatures: the engine asks once per wijk with the same block.
    """
    t = np.frombuffer(t_amb_bytes, dtype=np.float64)
    tt = t[:, None]
    tb = np.frombuffer(t_bases_bytes, dtype=np.float64)[None, :]
    kw_per_w_k = np.maximum(tb - tt, 0.0) / 1000.0
    if hp.kind is HeatPumpKind.hybrid and hp.t_switch_degc is not None:
        hp_kw_per_w_k = np.where(tt < hp.t_switch_degc, 0.0, kw_per_w_k)
    else:
        hp_kw_per_w_k = kw_per_w_k
    inv_cop_space = 1.0 / heat_pump_cop(tt, supply_temperature_degc(tt, hp, tb), hp)
    inv_cop_dhw = 1.0 / heat_pump_cop(t, hp.t_dhw_degc, hp) if hp.dhw_by_heat_pump else np.zeros(t.size)
    cap_per_unit = hp.p_heat_nom_kw * np.maximum(hp.capacity_min_frac, 1.0 - hp.capacity_slope_per_k * (hp.t_rated_degc - t))
    arrays = tuple(np.ascontiguousarray(a) for a in (kw_per_w_k, hp_kw_per_w_k, inv_cop_space, inv_cop_dhw, cap_per_unit))
    for a in arrays:
        a.flags.writeable = False
    return arrays


@njit(cache=True, inline="always")
def _electric_kw(h, q_dhw, space_kw_per_w_k, hp_kw_per_w_k, inv_cop_space, inv_cop_dhw, dhw_on, cap_kw, backup_max_kw):
    """Compressor plus backup [kW] of one home in one step: the heat pump serves its part of the space
    heat and, if ``dhw_on``, the DHW, up to ``cap_kw`` (in proportion); the backup element the rest of the
    heat, up to ``backup_max_kw``."""
    hp_space = h * hp_kw_per_w_k
    hp_dhw = q_dhw * dhw_on
    want = hp_space + hp_dhw
    q = min(want, cap_kw)
    p = (hp_space * inv_cop_space + hp_dhw * inv_cop_dhw) * (q / max(want, 1e-300))
    return p + min(h * space_kw_per_w_k + q_dhw - q, backup_max_kw)


@njit(cache=True, parallel=True, fastmath=False)
def _group_kernel(out, kw_per_w_k, hp_kw_per_w_k, inv_cop_space, base_of_home, dhw_shape_, inv_cop_dhw, cap_per_unit,
                  h_w_k, dhw_mean_kw, n_units, dhw_on, backup_max_kw):
    """Per element, the dispatch of heat_pump_electric_kw on space heat ``h_w_k kw_per_w_k`` and DHW
    ``dhw_shape_ dhw_mean_kw``; the step's quantities (``[n_step, n_base]`` per distinct base temperature,
    or ``[n_step]``) are precomputed. ``dhw_on`` is 1.0 when the heat pump makes the DHW, else 0.0;
    ``backup_max_kw`` is 0 for hybrids (their boiler takes the rest). Writes compressor + backup [kW]."""
    n_step, n_home = out.shape
    one_base = kw_per_w_k.shape[1] == 1
    for k in prange(n_step):  # steps in parallel: each value is computed alone, so threads change nothing
        s_k = dhw_shape_[k]
        icd = inv_cop_dhw[k]
        cap_k = cap_per_unit[k]
        if one_base:  # the usual case: no gather, the loop vectorises
            kw = kw_per_w_k[k, 0]
            hp_kw = hp_kw_per_w_k[k, 0]
            icop = inv_cop_space[k, 0]
            # first as _electric_kw for heat pumps that meet their demand, without its division (q / want
            # is exactly 1 then), and again with it on a step where one does not
            limited = False
            for j in range(n_home):
                h = h_w_k[j]
                q_dhw = s_k * dhw_mean_kw[j]
                hp_space = h * hp_kw
                hp_dhw = q_dhw * dhw_on
                want = hp_space + hp_dhw
                limited |= want > n_units[j] * cap_k
                out[k, j] = (hp_space * icop + hp_dhw * icd) + min(h * kw + q_dhw - want, n_units[j] * backup_max_kw)
            if limited:
                for j in range(n_home):
                    out[k, j] = _electric_kw(h_w_k[j], s_k * dhw_mean_kw[j], kw, hp_kw, icop, icd, dhw_on,
                                             n_units[j] * cap_k, n_units[j] * backup_max_kw)
        else:
            for j in range(n_home):
                u = base_of_home[j]
                out[k, j] = _electric_kw(h_w_k[j], s_k * dhw_mean_kw[j], kw_per_w_k[k, u], hp_kw_per_w_k[k, u],
                                         inv_cop_space[k, u], icd, dhw_on, n_units[j] * cap_k,
                                         n_units[j] * backup_max_kw)

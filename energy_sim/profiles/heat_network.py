"""District heat networks: merit-order dispatch with a buffer tank.

A network (Hengelo's DEC Zuid / DEC Noord, hengelo.md "Heat") serves an
aggregate heat demand plus its own pipe losses from sources in merit order:

1. residual heat upgraded by a heat pump (Twence residual heat at ~40 degC
   raised to ~70 degC), which may also charge the buffer;
2. an electric boiler;
3. a gas peak boiler.

The buffer discharges before the first source that may not charge it, so the
cheap source's surplus displaces peak boilers later. Because the buffer's
state of charge carries over, the dispatch is sequential in time; it runs in
a numba kernel (one pass over the steps, scalar work per step).

Heat balance every step (all in kW)::

    sum(q_source) + q_discharge + q_unserved = demand + q_network_loss + q_charge

and the buffer: ``E[t] = E[t-1] + (q_charge - q_discharge - q_standing_loss) dt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numba import njit

__all__ = [
    "HeatBuffer",
    "HeatNetwork",
    "HeatNetworkResult",
    "HeatSource",
    "HeatSourceKind",
    "hengelo_dec_network",
    "heat_network_dispatch",
]

KELVIN = 273.15


class HeatSourceKind(StrEnum):
    """Kinds of heat source and how they use energy."""

    residual_heat_pump = "residual_heat_pump"  # electricity: q / COP(T_source -> T_supply)
    e_boiler = "e_boiler"  # electricity: q / efficiency
    gas_boiler = "gas_boiler"  # gas: q / efficiency


@dataclass(frozen=True)
class HeatSource:
    """One heat source of a network.

    Attributes
    ----------
    name : str
        Label in results.
    kind : HeatSourceKind
        How it converts energy.
    q_max_kw : float
        Maximum heat output [kW].
    efficiency : float
        Heat per unit of input for boilers [-]: e-boiler 0.99 (resistive/
        electrode boilers lose only casing heat), gas boiler 0.9 on the upper
        heating value (condensing at 70/40 degC return: 0.90-0.95).
    t_source_degc : float
        Heat-pump source temperature [degC]; 40 degC Twence residual heat
        (hengelo.md).
    carnot_fraction : float
        Heat-pump COP as a fraction of the Carnot COP ``T_sink / (T_sink -
        T_source)`` [-]; large industrial heat pumps reach 0.45-0.6 (Jesper et
        al. 2021, "Large-scale heat pumps: uptake and performance modelling of
        market-available devices", Renew. Sust. Energy Rev. 137, 110646).
    charges_buffer : bool
        Whether it runs above demand to fill the buffer (cheap, base-load
        sources).
    """

    name: str
    kind: HeatSourceKind
    q_max_kw: float
    efficiency: float = 1.0
    t_source_degc: float = 40.0
    carnot_fraction: float = 0.5
    charges_buffer: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", HeatSourceKind(self.kind))
        if not self.q_max_kw >= 0:
            raise ValueError(f"heat source {self.name!r}: q_max_kw must be >= 0 [kW] (got {self.q_max_kw})")
        if not 0 < self.efficiency <= 1.1:
            raise ValueError(f"heat source {self.name!r}: efficiency must be in (0, 1.1] (got {self.efficiency})")
        if not 0 < self.carnot_fraction < 1:
            raise ValueError(
                f"heat source {self.name!r}: carnot_fraction must be in (0, 1) (got {self.carnot_fraction})"
            )


@dataclass(frozen=True)
class HeatBuffer:
    """Hot-water buffer tank.

    Attributes
    ----------
    e_max_kwh : float
        Usable heat capacity [kWh]; 1,000 m3 of water over a 30 K swing holds
        1,000 m3 x 1.163 kWh/(m3 K) x 30 K = 35 MWh.
    p_charge_max_kw, p_discharge_max_kw : float
        Heat-flow limits [kW].
    standing_loss_per_h : float
        Fraction of stored heat lost per hour [1/h]; large insulated tanks
        lose ~0.5-1 % per day (~3e-4 /h; IEA-ETSAP E17 "Thermal energy
        storage", 2013).
    soc_init_frac : float
        State of charge at the start [-].
    """

    e_max_kwh: float = 0.0
    p_charge_max_kw: float = 0.0
    p_discharge_max_kw: float = 0.0
    standing_loss_per_h: float = 3e-4
    soc_init_frac: float = 0.5

    def __post_init__(self) -> None:
        for name in ("e_max_kwh", "p_charge_max_kw", "p_discharge_max_kw", "standing_loss_per_h"):
            if getattr(self, name) < 0:
                raise ValueError(f"HeatBuffer.{name} must be >= 0 (got {getattr(self, name)})")
        if not 0 <= self.soc_init_frac <= 1:
            raise ValueError(f"HeatBuffer.soc_init_frac must be in [0, 1] (got {self.soc_init_frac})")


@dataclass(frozen=True)
class HeatNetwork:
    """A heat network: sources in merit order, buffer, losses, supply temperature.

    Attributes
    ----------
    name : str
        Label.
    sources : tuple of HeatSource
        In merit order (first = cheapest).
    buffer : HeatBuffer
        Buffer tank (``e_max_kwh = 0``: none).
    n_connections : int
        Connected dwellings (or equivalents) for the pipe loss [-].
    loss_w_per_connection : float
        Pipe heat loss per connection at the nominal supply temperature [W];
        250 W (~2,200 kWh/yr) is ~20-25 % of the heat fed in for Dutch
        networks of terraced homes (CE Delft, "Factsheets warmtenetten",
        2020: distribution losses 20-30 %).
    t_supply_max_degc, t_supply_min_degc : float
        Supply temperature at <= ``t_design_degc`` and >= ``t_summer_degc``
        outdoors [degC]; 70 degC design (hengelo.md, DEC plants), 65 degC in
        summer (DHW needs >= 60-65 degC against Legionella, NEN 1006).
    t_return_degc : float
        Return temperature [degC].
    t_ground_degc : float
        Ground temperature at pipe depth [degC]; ~10 degC in NL (KNMI annual
        mean soil temperature at 1 m).
    pump_frac : float
        Pumping electricity as a fraction of heat delivered [-]; ~1 %
        (Frederiksen & Werner, "District Heating and Cooling", 2013, ch. 7).
    """

    name: str
    sources: tuple[HeatSource, ...]
    buffer: HeatBuffer = field(default_factory=HeatBuffer)
    n_connections: int = 0
    loss_w_per_connection: float = 250.0
    t_supply_max_degc: float = 70.0
    t_supply_min_degc: float = 65.0
    t_design_degc: float = -10.0
    t_summer_degc: float = 15.0
    t_return_degc: float = 40.0
    t_ground_degc: float = 10.0
    pump_frac: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        if not self.sources:
            raise ValueError(f"heat network {self.name!r} needs at least one source")
        for s in self.sources:
            if s.kind is HeatSourceKind.residual_heat_pump and s.t_source_degc >= self.t_supply_min_degc:
                raise ValueError(
                    f"heat network {self.name!r}: source {s.name!r} t_source_degc={s.t_source_degc} must be "
                    f"below the supply temperature ({self.t_supply_min_degc} degC)"
                )


@dataclass(frozen=True)
class HeatNetworkResult:
    """Output of :func:`heat_network_dispatch`, arrays over ``n_step``.

    Attributes
    ----------
    source_names : tuple of str
        Column labels of the per-source arrays.
    q_source_kw : numpy.ndarray
        Heat per source [kW], ``[n_step, n_source]``.
    p_source_kw : numpy.ndarray
        Electricity per source [kW], ``[n_step, n_source]`` (0 for gas).
    p_gas_kw : numpy.ndarray
        Gas input, upper heating value [kW].
    p_pump_kw : numpy.ndarray
        Circulation pumps [kW].
    p_electric_kw : numpy.ndarray
        Total electricity of the network's MV connection [kW].
    cop : numpy.ndarray
        COP per source [-] (heat pumps; 0 for others), ``[n_step, n_source]``.
    q_charge_kw, q_discharge_kw, q_buffer_loss_kw : numpy.ndarray
        Buffer heat flows [kW].
    soc_frac : numpy.ndarray
        Buffer state of charge at the end of each step [-].
    q_network_loss_kw : numpy.ndarray
        Pipe losses [kW].
    q_unserved_kw : numpy.ndarray
        Demand no source could meet [kW].
    e_buffer_kwh : numpy.ndarray
        Heat in the buffer at the end of each step [kWh]; pass the last value
        as ``e_init_kwh`` to chain blocks exactly.
    """

    source_names: tuple[str, ...]
    q_source_kw: np.ndarray
    p_source_kw: np.ndarray
    p_gas_kw: np.ndarray
    p_pump_kw: np.ndarray
    p_electric_kw: np.ndarray
    cop: np.ndarray
    q_charge_kw: np.ndarray
    q_discharge_kw: np.ndarray
    q_buffer_loss_kw: np.ndarray
    soc_frac: np.ndarray
    q_network_loss_kw: np.ndarray
    q_unserved_kw: np.ndarray
    e_buffer_kwh: np.ndarray | None = None


@njit(cache=True)
def _dispatch_kernel(need_kw, q_max_kw, charges, e_max_kwh, p_ch_max_kw, p_dis_max_kw, loss_per_h, e0_kwh, dt_h):
    n_step = need_kw.shape[0]
    n_src = q_max_kw.shape[1]
    q = np.zeros((n_step, n_src))
    charge = np.zeros(n_step)
    discharge = np.zeros(n_step)
    standing = np.zeros(n_step)
    unserved = np.zeros(n_step)
    e_end = np.zeros(n_step)
    keep = np.exp(-loss_per_h * dt_h)  # exact decay over the step
    e = e0_kwh
    for t in range(n_step):
        lost = e * (1.0 - keep)
        e_avail = e - lost
        remaining = need_kw[t]
        room_kw = min(p_ch_max_kw, (e_max_kwh - e_avail) / dt_h)
        dis_kw = 0.0
        discharged = False
        for i in range(n_src):
            if charges[i]:
                qi = min(q_max_kw[t, i], remaining + room_kw)
                q[t, i] = qi
                to_demand = min(qi, remaining)
                remaining -= to_demand
                surplus = qi - to_demand
                charge[t] += surplus
                room_kw -= surplus
            else:
                if not discharged:
                    dis_kw = min(remaining, p_dis_max_kw, e_avail / dt_h)
                    remaining -= dis_kw
                    discharged = True
                qi = min(q_max_kw[t, i], remaining)
                q[t, i] = qi
                remaining -= qi
        if not discharged:
            dis_kw = min(remaining, p_dis_max_kw, e_avail / dt_h)
            remaining -= dis_kw
        # a step cannot both charge and discharge: net them (charging sources
        # come first, so a discharge only happens when they are exhausted)
        discharge[t] = dis_kw
        e = e_avail + (charge[t] - dis_kw) * dt_h
        e = min(max(e, 0.0), e_max_kwh)
        standing[t] = lost / dt_h
        unserved[t] = max(remaining, 0.0)
        e_end[t] = e
    return q, charge, discharge, standing, unserved, e_end


def supply_temperature_degc(t_amb_degc, network: HeatNetwork) -> np.ndarray:
    """Weather-compensated network supply temperature [degC].

    Linear from ``t_supply_max_degc`` at ``t_design_degc`` to
    ``t_supply_min_degc`` at ``t_summer_degc``, held outside.
    """
    t = np.asarray(t_amb_degc, dtype=float)
    frac = np.clip((network.t_summer_degc - t) / (network.t_summer_degc - network.t_design_degc), 0.0, 1.0)
    return network.t_supply_min_degc + frac * (network.t_supply_max_degc - network.t_supply_min_degc)


def heat_network_dispatch(
    heat_demand_kw,
    t_amb_degc,
    network: HeatNetwork,
    *,
    dt_h: float = 0.25,
    availability=None,
    soc_init_frac: float | None = None,
    e_init_kwh: float | None = None,
) -> HeatNetworkResult:
    """Dispatch a heat network's sources and buffer over a horizon.

    Parameters
    ----------
    heat_demand_kw : array_like
        Heat delivered to customers [kW], ``[n_step]`` or ``[n_step,
        n_connection]`` (summed over connections).
    t_amb_degc : array_like
        Outdoor temperature [degC], ``[n_step]``.
    network : HeatNetwork
        Parameters.
    dt_h : float
        Step length [h].
    availability : array_like, optional
        Available fraction of each source's ``q_max_kw`` [-], ``[n_step,
        n_source]`` or ``[n_source]`` (e.g. residual heat during a Twence
        outage); default 1.
    soc_init_frac : float, optional
        Buffer state of charge at the start [-]; default
        ``network.buffer.soc_init_frac``. Pass the previous block's last
        ``soc_frac`` to chain blocks.
    e_init_kwh : float, optional
        Heat in the buffer at the start [kWh], overriding ``soc_init_frac``:
        the previous block's last ``e_buffer_kwh`` continues the dispatch bit
        for bit (``soc_frac * e_max_kwh`` may differ in the last bit).

    Returns
    -------
    HeatNetworkResult
        Pipe loss: ``n_connections * loss_w_per_connection`` scaled by the
        mean pipe temperature above ground, ``(T_pipe - T_ground) /
        (T_pipe,nominal - T_ground)`` with ``T_pipe = (T_supply +
        T_return)/2``.
    """
    demand = np.asarray(heat_demand_kw, dtype=float)
    if demand.ndim == 2:
        demand = demand.sum(axis=1)
    t = np.broadcast_to(np.asarray(t_amb_degc, dtype=float), demand.shape)
    if np.any(demand < 0):
        raise ValueError(f"heat network {network.name!r}: heat_demand_kw must be >= 0 [kW] (min {demand.min()})")
    if not dt_h > 0:
        raise ValueError(f"dt_h must be > 0 [h] (got {dt_h})")
    n_step, n_src = demand.size, len(network.sources)

    t_supply = supply_temperature_degc(t, network)
    t_pipe = 0.5 * (t_supply + network.t_return_degc)
    t_pipe_nom = 0.5 * (network.t_supply_max_degc + network.t_return_degc)
    loss_kw = (
        network.n_connections
        * network.loss_w_per_connection
        / 1000.0
        * np.maximum(t_pipe - network.t_ground_degc, 0.0)
        / (t_pipe_nom - network.t_ground_degc)
    )

    q_max = np.array([s.q_max_kw for s in network.sources], dtype=float)
    avail = np.ones((n_step, n_src)) if availability is None else np.broadcast_to(np.asarray(availability, float), (n_step, n_src))
    if np.any(avail < 0) or np.any(avail > 1):
        raise ValueError(f"heat network {network.name!r}: availability must be within [0, 1]")
    q_max_t = np.ascontiguousarray(avail * q_max)
    charges = np.array([s.charges_buffer for s in network.sources], dtype=np.bool_)

    buf = network.buffer
    soc0 = buf.soc_init_frac if soc_init_frac is None else soc_init_frac
    if e_init_kwh is not None and not -1e-9 <= e_init_kwh <= buf.e_max_kwh * (1 + 1e-12) + 1e-9:
        raise ValueError(f"heat network {network.name!r}: e_init_kwh must be within [0, {buf.e_max_kwh}] kWh "
                         f"(got {e_init_kwh})")
    e0_kwh = float(soc0 * buf.e_max_kwh) if e_init_kwh is None else float(e_init_kwh)
    q, charge, discharge, standing, unserved, e_end = _dispatch_kernel(
        np.ascontiguousarray(demand + loss_kw), q_max_t, charges,
        float(buf.e_max_kwh), float(buf.p_charge_max_kw), float(buf.p_discharge_max_kw),
        float(buf.standing_loss_per_h), e0_kwh, float(dt_h),
    )

    cop = np.zeros((n_step, n_src))
    p_src = np.zeros((n_step, n_src))
    p_gas = np.zeros(n_step)
    for i, s in enumerate(network.sources):  # loop over a handful of sources, not steps
        if s.kind is HeatSourceKind.residual_heat_pump:
            t_sink_k = t_supply + KELVIN
            cop[:, i] = s.carnot_fraction * t_sink_k / (t_supply - s.t_source_degc)
            p_src[:, i] = q[:, i] / cop[:, i]
        elif s.kind is HeatSourceKind.e_boiler:
            p_src[:, i] = q[:, i] / s.efficiency
        else:
            p_gas += q[:, i] / s.efficiency
    p_pump = network.pump_frac * demand
    soc = e_end / buf.e_max_kwh if buf.e_max_kwh > 0 else np.zeros(n_step)
    return HeatNetworkResult(
        source_names=tuple(s.name for s in network.sources),
        q_source_kw=q,
        p_source_kw=p_src,
        p_gas_kw=p_gas,
        p_pump_kw=p_pump,
        p_electric_kw=p_src.sum(axis=1) + p_pump,
        cop=cop,
        q_charge_kw=charge,
        q_discharge_kw=discharge,
        q_buffer_loss_kw=standing,
        soc_frac=soc,
        q_network_loss_kw=loss_kw,
        q_unserved_kw=unserved,
        e_buffer_kwh=e_end,
    )


def hengelo_dec_network(n_connections: int = 950, *, name: str = "DEC Zuid") -> HeatNetwork:
    """A DEC-like network sized for ``n_connections`` dwellings.

    Sizing (documented estimates, not plant data): design heat per dwelling
    ~3 kW after diversity (a 145 W/K home at -10 degC needs 3.7 kW; network
    diversity ~0.8), so peak ~(3 kW + 0.25 kW loss) per connection. The
    residual-heat heat pump covers ~50 % of peak (which in a load-duration
    curve is ~85-90 % of annual heat, Frederiksen & Werner 2013), the e-boiler
    20 %, the gas peak boiler the rest with margin; the buffer holds ~4 h of
    heat-pump output.
    """
    peak_kw = n_connections * 3.25
    hp_kw = 0.5 * peak_kw
    return HeatNetwork(
        name=name,
        sources=(
            HeatSource("residual_heat_pump", HeatSourceKind.residual_heat_pump, hp_kw, charges_buffer=True),
            HeatSource("e_boiler", HeatSourceKind.e_boiler, 0.2 * peak_kw, efficiency=0.99),
            HeatSource("gas_peak_boiler", HeatSourceKind.gas_boiler, 0.5 * peak_kw, efficiency=0.9),
        ),
        buffer=HeatBuffer(e_max_kwh=4.0 * hp_kw, p_charge_max_kw=hp_kw, p_discharge_max_kw=hp_kw),
        n_connections=n_connections,
    )

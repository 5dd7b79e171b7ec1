"""Heat networks and batteries in runs: their dispatch block by block.

A run walks the horizon in control blocks (DESIGN.md decision 2). Heat-network
buffers and batteries carry their stored energy from one block to the next
as an energy [kWh], not as a state-of-charge fraction (``soc * e_max`` can
differ from the stored energy in the last bit), and every rule below reads
only the present step and the past. Given the same inputs, a run in daily
blocks therefore dispatches bit for bit like a run in one block
(``tests/profiles/test_assets_in_runs.py``).

Heat networks
-------------
Heat demand: the connected dwellings, each a home of the wijk's building
archetype (``models/building_archetypes.yaml``): space heat by the
degree-hour method plus domestic hot water, as for heat-pump homes
(`energy_sim.profiles.heat`). Space heat is linear in the heat-loss
coefficient, so the sum over dwellings is ``n * H``; the engine's per-home
spread of ``H`` (lognormal with mean 1) would change the sum of ``n``
dwellings by only ~``0.25 / sqrt(n)`` (0.8 % for DEC Zuid's 950) and is left
out, so heat networks draw no random numbers.

Dispatch: `heat_network_dispatch` with the model of :func:`heat_network_model`
(residual-heat heat pumps first and filling the buffer, then the e-boiler,
then the gas peak boiler). The electricity of the heat pumps, the e-boiler
and the circulation pumps is the load of the plant's MV connection. The
connected dwellings are homes of the wijk that get no heat pump of their own
(``energy_sim.profiles.homes.wijk_homes``), so their heating is counted once, here.

Batteries
---------
Sign convention: a battery's power is positive while charging (it adds load,
pandapower's load convention, DESIGN.md) and negative while discharging.
Each battery measures the net active power (consumption - generation) at its
*measurement point* and reacts to it in the same step:

* LV battery (a neighbourhood battery): its MV/LV transformer, i.e. every
  home, rooftop PV system and other connection of its LV grid;
* MV battery (>= 1 MW): its wijk, i.e. every category of the wijk's energy
  (homes, heat pumps, EVs, heat networks, solar fields, wind, LV batteries).

``self_consumption`` charges on surplus and discharges on deficit at that
point. ``peak_shaving`` holds the point's load at a threshold that follows
:func:`peak_shaving_threshold_kw` over the *previous* 24 h window (a
persistence forecast: plan today as if it were yesterday, as a day-ahead
operator with no other forecast would); the windows are counted from the
horizon's start, whatever the block length. In the first window nothing is
known yet and the battery idles (threshold = the measured load, so it neither
charges nor discharges).

Batteries act one after another in scenario order, LV before MV, each seeing
the ones before it at its measurement point; their controllers leave their
own power out of the history they learn from. The congestion manager's
forecast of a block (smart charging) does not include them: they follow their
own rule, not the manager's, unless the manager instructs them: with the
measure ``battery_dispatch`` it may give an LV battery a net-load limit for
a block (``limit_kw`` of `BatteriesInRun.block`). A ``peak_shaving`` battery
then holds its transformer's net load to the lower of that limit and its own
threshold; a ``self_consumption`` battery peak-shaves to the limit instead of
following its own rule for that block (it keeps its energy for the
transformer's peak and recharges only below the limit). Before commissioning and from decommissioning,
heat networks and batteries draw nothing and keep their stored energy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from energy_sim.profiles.heat import BuildingArchetype, dhw_heat_kw, load_building_archetype, space_heat_kw
from energy_sim.profiles.heat_network import (
    HeatBuffer,
    HeatNetwork,
    HeatSource,
    HeatSourceKind,
    heat_network_dispatch,
)
from energy_sim.profiles.storage import BatteryFleet, DispatchRule, battery_dispatch

__all__ = [
    "AssetsInRun",
    "BatteriesInRun",
    "HeatNetworksInRun",
    "assets_in_run",
    "dwellings_heat_demand_kw",
    "heat_network_model",
    "peak_shaving_threshold_kw",
]

#: Hours of heat-pump-free discharge of a buffer at full flow: the buffer's
#: charge and discharge limits are ``buffer_e_kwh / BUFFER_HOURS_AT_FULL_FLOW``
#: (assumption, the 4 h ratio of `hengelo_dec_network`; a stratified tank's
#: flow is set by its pipes and pumps, which the scenario does not give).
BUFFER_HOURS_AT_FULL_FLOW = 4.0

#: Efficiency of electric (electrode) boilers [-]: only casing losses
#: (same value and source as `energy_sim.profiles.heat_network.HeatSource`).
E_BOILER_EFFICIENCY = 0.99

#: Efficiency of the gas peak boiler on the upper heating value [-]
#: (condensing at 70/40 degC: 0.90-0.95; see `HeatSource`).
GAS_BOILER_EFFICIENCY = 0.90

#: Lowest state of charge a battery is run down to [-], as
#: `energy_sim.profiles.storage.neighbourhood_batteries`.
BATTERY_SOC_MIN_FRAC = 0.05

#: Length of the window a peak-shaving battery learns its threshold from [h].
PEAK_SHAVING_WINDOW_H = 24.0


# --------------------------------------------------------------------------
# pure functions


def dwellings_heat_demand_kw(time_utc: pd.DatetimeIndex, t_amb_degc, n_dwellings: float,
                             archetype: BuildingArchetype) -> np.ndarray:
    """Heat demand of ``n_dwellings`` homes of one archetype: space heat plus hot water.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Timezone-aware time stamps, ``[n_step]``.
    t_amb_degc : array_like
        Outdoor temperature [degC], ``[n_step]``.
    n_dwellings : float
        Connected dwellings [-].
    archetype : BuildingArchetype
        Heat-loss coefficient, base temperature and hot-water demand of one
        dwelling (``models/building_archetypes.yaml``).

    Returns
    -------
    numpy.ndarray
        Heat demand [kW], ``[n_step]``: ``n H max(0, T_base - T_amb) / 1000``
        (CIBSE TM41, `space_heat_kw`) plus ``n`` times the hot-water profile
        of `dhw_heat_kw`.
    """
    space = space_heat_kw(t_amb_degc, n_dwellings * archetype.h_w_k, archetype.t_base_degc)[:, 0]
    return space + dhw_heat_kw(time_utc, n_dwellings * archetype.dhw_kwh_per_year)[:, 0]


def heat_network_model(asset) -> HeatNetwork:
    """The dispatch model of a scenario's ``assets.heat_networks`` entry.

    Sources in merit order: ``residual_heat_pump`` (``heat_pump_p_th_kw``;
    Twence residual heat at 40 degC raised to the 65-70 degC supply,
    hengelo.md, COP half the Carnot COP; fills the buffer), ``e_boiler``
    (``e_boiler_p_kw`` of electricity, heat ``0.99 e_boiler_p_kw``) and
    ``gas_peak_boiler`` (``gas_boiler_p_th_kw``, 0.90 on the upper heating
    value). The buffer holds ``buffer_e_kwh`` and charges or discharges in
    no less than `BUFFER_HOURS_AT_FULL_FLOW` hours. Pipe losses of 250 W per
    connected dwelling and pumping electricity of 1 % of the heat delivered
    are the defaults of `HeatNetwork` (sources there).
    """
    flow_kw = asset.buffer_e_kwh / BUFFER_HOURS_AT_FULL_FLOW
    return HeatNetwork(
        name=asset.name,
        sources=(
            HeatSource("residual_heat_pump", HeatSourceKind.residual_heat_pump, asset.heat_pump_p_th_kw,
                       t_source_degc=40.0, charges_buffer=True),
            HeatSource("e_boiler", HeatSourceKind.e_boiler, E_BOILER_EFFICIENCY * asset.e_boiler_p_kw,
                       efficiency=E_BOILER_EFFICIENCY),
            HeatSource("gas_peak_boiler", HeatSourceKind.gas_boiler, asset.gas_boiler_p_th_kw,
                       efficiency=GAS_BOILER_EFFICIENCY),
        ),
        buffer=HeatBuffer(e_max_kwh=asset.buffer_e_kwh, p_charge_max_kw=flow_kw, p_discharge_max_kw=flow_kw),
        n_connections=asset.connected_dwellings,
        t_supply_max_degc=70.0,
    )


def peak_shaving_threshold_kw(net_load_kw, p_max_kw: float, e_usable_kwh: float, dt_h: float) -> float:
    """The flat load a battery could have held a past window's peaks to.

    The lowest threshold ``theta`` whose excess the battery could have
    delivered, ``sum(max(x - theta, 0)) dt <= e_usable``, but not below
    ``max(x) - p_max`` (lower, the battery could not hold the peak anyway
    and would only spend energy early) nor below the window's mean load
    (lower, no hours would be left to recharge in). The energy condition is
    solved by bisection to ~1e-9 relative.

    Parameters
    ----------
    net_load_kw : array_like
        Net load at the measurement point over the window [kW], ``[n_step]``.
    p_max_kw : float
        Battery power limit [kW].
    e_usable_kwh : float
        Energy the battery can deliver at its AC side from full to empty [kWh].
    dt_h : float
        Step length [h].

    Returns
    -------
    float
        Threshold [kW].
    """
    x = np.asarray(net_load_kw, dtype=float)

    def shaved_kwh(theta: float) -> float:
        return float(np.maximum(x - theta, 0.0).sum() * dt_h)

    low = max(float(x.mean()), float(x.max()) - p_max_kw)
    if shaved_kwh(low) <= e_usable_kwh:
        return low
    high = float(x.max())
    for _ in range(200):
        mid = 0.5 * (low + high)
        if shaved_kwh(mid) > e_usable_kwh:
            low = mid
        else:
            high = mid
        if high - low <= 1e-9 * max(1.0, abs(high)):
            break
    return high


# --------------------------------------------------------------------------
# heat networks


class HeatNetworksInRun:
    """The heat networks of a run: demand, dispatch and heat balance, block by block.

    Parameters
    ----------
    names, wijk_codes : sequence of str
        Network names and the wijk each lies in.
    models : sequence of HeatNetwork
        Dispatch models (see :func:`heat_network_model`).
    archetypes : sequence of BuildingArchetype
        The building archetype of each network's dwellings.
    active : sequence of numpy.ndarray
        Per network, whether it is in service at each step of the horizon
        (bool, ``[n_time]``).
    dt_h : float
        Step length [h].
    """

    def __init__(self, names: Sequence[str], wijk_codes: Sequence[str], models: Sequence[HeatNetwork],
                 archetypes: Sequence[BuildingArchetype], active: Sequence[np.ndarray], dt_h: float):
        self.names = list(names)
        self.wijk_codes = list(wijk_codes)
        self.models = list(models)
        self.archetypes = list(archetypes)
        self.active = [np.asarray(a, dtype=bool) for a in active]
        self.dt_h = float(dt_h)
        self.sources: list[str] = []
        for m in self.models:
            self.sources += [s.name for s in m.sources if s.name not in self.sources]
        n, k = len(self.names), len(self.sources)
        self.e_buffer_kwh = np.array([m.buffer.soc_init_frac * m.buffer.e_max_kwh for m in self.models])
        self._e_start_kwh = self.e_buffer_kwh.copy()
        self._q_source_kwh = np.zeros((n, k))
        self._p_source_kwh = np.zeros((n, k))
        self._totals = {key: np.zeros(n) for key in (
            "demand", "pipe_loss", "buffer_loss", "unserved", "gas", "pump", "electricity")}

    def block(self, i0: int, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray) -> np.ndarray:
        """Dispatch every network over one block starting at horizon step `i0`.

        Returns
        -------
        numpy.ndarray
            Electricity of each plant [kW], ``[n_step, n_network]``.
        """
        n_step = len(time_utc)
        p_kw = np.zeros((n_step, len(self.names)))
        t_amb = np.asarray(t_amb_degc, dtype=float)
        for j, model in enumerate(self.models):
            on = self.active[j][i0:i0 + n_step]
            if not on.any():
                continue
            demand = dwellings_heat_demand_kw(time_utc[on], t_amb[on], model.n_connections, self.archetypes[j])
            r = heat_network_dispatch(demand, t_amb[on], model, dt_h=self.dt_h, e_init_kwh=self.e_buffer_kwh[j])
            if model.buffer.e_max_kwh > 0:
                self.e_buffer_kwh[j] = r.e_buffer_kwh[-1]
            p_kw[on, j] = r.p_electric_kw
            columns = [self.sources.index(name) for name in r.source_names]
            self._q_source_kwh[j, columns] += r.q_source_kw.sum(axis=0) * self.dt_h
            self._p_source_kwh[j, columns] += r.p_source_kw.sum(axis=0) * self.dt_h
            for key, values in (("demand", demand), ("pipe_loss", r.q_network_loss_kw),
                                ("buffer_loss", r.q_buffer_loss_kw), ("unserved", r.q_unserved_kw),
                                ("gas", r.p_gas_kw), ("pump", r.p_pump_kw), ("electricity", r.p_electric_kw)):
                self._totals[key][j] += values.sum() * self.dt_h
        return p_kw

    def report(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Horizon totals [MWh]: per network; heat per source; electricity per source."""
        index = pd.Index(self.names, name="heat_network")
        table = pd.DataFrame({
            "wijk": self.wijk_codes,
            "connected_dwellings": [m.n_connections for m in self.models],
            **{f"{key}_mwh": values / 1000.0 for key, values in self._totals.items()},
            "buffer_change_mwh": (self.e_buffer_kwh - self._e_start_kwh) / 1000.0,
        }, index=index)
        heat = pd.DataFrame(self._q_source_kwh / 1000.0, index=index, columns=self.sources)
        electricity = pd.DataFrame(self._p_source_kwh / 1000.0, index=index, columns=self.sources)
        return table, heat, electricity


# --------------------------------------------------------------------------
# batteries


def _columns(columns: Sequence[int]) -> slice | np.ndarray:
    """A slice when the columns are contiguous (a view), else an index array."""
    c = np.asarray(columns, dtype=np.int64)
    if c.size and np.array_equal(c, np.arange(c[0], c[0] + c.size)):
        return slice(int(c[0]), int(c[0]) + c.size)
    return c


@dataclass
class _Battery:
    """One battery's parameters, where it measures, and its state between blocks."""

    name: str
    wijk: str
    level: str  # "lv" or "mv"
    rule: DispatchRule
    fleet: BatteryFleet
    active: np.ndarray  # bool [n_time]
    home_columns: slice | np.ndarray | None = None  # LV: its grid's homes in the wijk's arrays
    extra_columns: slice | np.ndarray | None = None  # LV: its grid's other connections
    own_column: int = -1  # LV: its column in the wijk's extra arrays
    grid: str = ""  # LV: its LV grid (the name of its MV/LV transformer)
    e_kwh: float = 0.0
    previous_window_kw: np.ndarray | None = None
    partial_window_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    charged_kwh: float = 0.0
    discharged_kwh: float = 0.0

    @property
    def e_usable_kwh(self) -> float:
        f = self.fleet
        return float(f.e_max_kwh[0] * (f.soc_max_frac[0] - f.soc_min_frac[0]) * f.eta_discharge[0])


class BatteriesInRun:
    """The batteries of a run, dispatched block by block (see the module docstring).

    Parameters
    ----------
    batteries : list of _Battery
        In dispatch order: LV batteries, then MV batteries.
    wijk_codes : sequence of str
        Wijken in the engine's order.
    dt_h : float
        Step length [h].
    """

    def __init__(self, batteries: list[_Battery], wijk_codes: Sequence[str], dt_h: float):
        self.batteries = batteries
        self.wijk_codes = list(wijk_codes)
        self.dt_h = float(dt_h)
        self.window_steps = max(1, int(round(PEAK_SHAVING_WINDOW_H / self.dt_h)))
        for b in batteries:
            b.e_kwh = float(b.fleet.soc_init_frac[0] * b.fleet.e_max_kwh[0])
        #: Per battery instructed in the last block: energy it discharged while its measured net load
        #: was above the instructed limit [kWh] (what the manager's ``battery_dispatch`` took off).
        self.shaved_kwh: dict[str, float] = {}

    @property
    def mv_names(self) -> list[str]:
        return [b.name for b in self.batteries if b.level == "mv"]

    def _thresholds(self, b: _Battery, net_kw: np.ndarray) -> np.ndarray:
        """Peak-shaving threshold per step [kW] from the previous window; updates the history."""
        n = self.window_steps
        series = np.concatenate([b.partial_window_kw, net_kw])
        carried = len(b.partial_window_kw)
        theta = np.empty(len(series))
        previous = b.previous_window_kw
        for start in range(0, len(series), n):
            chunk = series[start:start + n]
            if previous is None:
                theta[start:start + n] = chunk  # nothing measured yet: idle
            else:
                theta[start:start + n] = peak_shaving_threshold_kw(previous, b.fleet.p_max_kw[0], b.e_usable_kwh,
                                                                   self.dt_h)
            if len(chunk) == n:
                previous = chunk.copy()
                b.partial_window_kw = np.zeros(0)
            else:
                b.partial_window_kw = chunk.copy()
        b.previous_window_kw = previous
        return theta[carried:]

    def _dispatch(self, b: _Battery, i0: int, net_kw: np.ndarray, limit_kw: float = np.inf) -> np.ndarray:
        """Battery power [kW], + charging, for measured load `net_kw` of a block starting at step `i0`.

        A finite `limit_kw` (the manager's instruction) lowers a peak-shaving
        battery's threshold to ``min(own threshold, limit_kw)``; a
        ``self_consumption`` battery peak-shaves to ``limit_kw`` instead.
        ASSUMPTION: "the lower of the two" would change nothing for a
        self-consumption battery (its own wish, ``-net``, already discharges
        more than ``limit_kw - net`` whenever it draws from the grid), and an
        operator who instructs a battery for congestion wants its energy kept
        for the transformer's peak, not spent on the first hours of deficit.
        """
        rule = b.rule
        threshold = self._thresholds(b, net_kw) if rule is DispatchRule.peak_shaving else None
        instructed = bool(np.isfinite(limit_kw))
        if instructed:
            own = threshold if threshold is not None else np.full(len(net_kw), np.inf)
            threshold, rule = np.minimum(own, limit_kw), DispatchRule.peak_shaving
        on = b.active[i0:i0 + len(net_kw)]
        p_kw = np.zeros(len(net_kw))
        if instructed:
            self.shaved_kwh[b.name] = 0.0
        if on.any():
            r = battery_dispatch(net_kw[on], b.fleet, rule, dt_h=self.dt_h, e_init_kwh=b.e_kwh,
                                 threshold_kw=None if threshold is None else threshold[on][:, None])
            p_kw[on] = r.p_battery_kw[:, 0]
            b.e_kwh = float(r.e_kwh[-1, 0])
            b.charged_kwh += float(np.maximum(p_kw, 0.0).sum() * self.dt_h)
            b.discharged_kwh += float(np.maximum(-p_kw, 0.0).sum() * self.dt_h)
            if instructed:
                self.shaved_kwh[b.name] = float(np.maximum(-p_kw, 0.0)[net_kw > limit_kw].sum() * self.dt_h)
        return p_kw

    def block(self, i0: int, home_p_kw: dict, rooftop_pv_kw: dict, extra_p_kw: dict,
              wijk_net_kw: np.ndarray, limit_kw: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Dispatch every battery over one block starting at horizon step `i0`.

        LV batteries' power is written into their column of `extra_p_kw`
        (in place). `wijk_net_kw` ``[n_step, n_wijk]`` is each wijk's net load
        without batteries [kW] (MV batteries' measurement). `limit_kw` maps
        LV battery names to the congestion manager's net-load limit for this
        block [kW] (``battery_dispatch``; see `_dispatch`); `shaved_kwh` then
        holds what each instructed battery discharged above its limit.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            MV batteries' power ``[n_step, n_mv_battery]`` and all batteries'
            power per wijk ``[n_step, n_wijk]`` [kW], + charging.
        """
        n_step = wijk_net_kw.shape[0]
        per_wijk = np.zeros((n_step, len(self.wijk_codes)))
        mv = []
        limit_kw = limit_kw or {}
        self.shaved_kwh = {}
        for b in self.batteries:
            k = self.wijk_codes.index(b.wijk)
            if b.level == "lv":
                net = (_homes_sum_kw(home_p_kw, b.wijk, b.home_columns)
                       - _homes_sum_kw(rooftop_pv_kw, b.wijk, b.home_columns)
                       + extra_p_kw[b.wijk][:, b.extra_columns].sum(axis=1, dtype=np.float64))
                p_kw = self._dispatch(b, i0, net, limit_kw.get(b.name, np.inf))
                extra_p_kw[b.wijk][:, b.own_column] = p_kw
            else:
                p_kw = self._dispatch(b, i0, wijk_net_kw[:, k] + per_wijk[:, k])
                mv.append(p_kw)
            per_wijk[:, k] += p_kw
        return (np.column_stack(mv) if mv else np.zeros((n_step, 0))), per_wijk

    def report(self) -> pd.DataFrame:
        """Per battery: wijk, level, rule, size, energy charged and discharged [MWh], final SOC."""
        return pd.DataFrame({
            "wijk": [b.wijk for b in self.batteries],
            "level": [b.level for b in self.batteries],
            "dispatch": [b.rule.value for b in self.batteries],
            "p_mw": [float(b.fleet.p_max_kw[0]) / 1000.0 for b in self.batteries],
            "e_mwh": [float(b.fleet.e_max_kwh[0]) / 1000.0 for b in self.batteries],
            "charged_mwh": [b.charged_kwh / 1000.0 for b in self.batteries],
            "discharged_mwh": [b.discharged_kwh / 1000.0 for b in self.batteries],
            "soc_end_frac": [b.e_kwh / float(b.fleet.e_max_kwh[0]) for b in self.batteries],
        }, index=pd.Index([b.name for b in self.batteries], name="battery"))


# --------------------------------------------------------------------------
# both, as the engine uses them


@dataclass
class AssetsInRun:
    """Heat networks and batteries of a run, and the MV loads they make.

    ``mv_load_ids`` is the column order of the MV loads for
    `energy_sim.grid.simulate.CitySolver`: heat plants, MV batteries, then
    charging hubs (fast chargers, bus depots; their power comes from the
    events layer, `energy_sim.events.wiring`).
    """

    heat: HeatNetworksInRun
    batteries: BatteriesInRun
    charging_hub_ids: list[str]
    wijk_codes: list[str]

    @property
    def mv_load_ids(self) -> list[str]:
        return self.heat.names + self.batteries.mv_names + self.charging_hub_ids

    @property
    def hub_columns(self) -> slice:
        """The charging hubs' columns in ``mv_load_ids`` order."""
        return slice(len(self.mv_load_ids) - len(self.charging_hub_ids), len(self.mv_load_ids))

    def without_hubs(self, mv_load: np.ndarray) -> np.ndarray:
        """A copy of MV loads ``[n_step, len(mv_load_ids)]`` with the charging hubs' columns at zero."""
        out = np.array(mv_load, dtype=float, copy=True)
        out[:, self.hub_columns] = 0.0
        return out

    def block(self, i0: int, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray, home_p_kw: dict,
              rooftop_pv_kw: dict, extra_p_kw: dict, wijk_net_mw: np.ndarray, charging_hub_kw: np.ndarray | None = None,
              battery_limit_kw: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One block: heat plants, then batteries (LV ones written into `extra_p_kw`).

        Parameters
        ----------
        wijk_net_mw : numpy.ndarray
            Net load per wijk without heat networks and batteries [MW],
            ``[n_step, n_wijk]``.
        charging_hub_kw : numpy.ndarray, optional
            Power of the charging hubs ``[n_step, len(charging_hub_ids)]``
            [kW] (zero when omitted).
        battery_limit_kw : dict of str to float, optional
            The congestion manager's net-load limit per LV battery for this
            block [kW] (`BatteriesInRun.block`).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
            MV loads ``[n_step, len(mv_load_ids)]``, heat-network electricity
            per wijk and battery power per wijk ``[n_step, n_wijk]``, all [MW].
        """
        heat_kw = self.heat.block(i0, time_utc, t_amb_degc)
        heat_wijk_kw = np.zeros((len(time_utc), len(self.wijk_codes)))
        for j, code in enumerate(self.heat.wijk_codes):
            heat_wijk_kw[:, self.wijk_codes.index(code)] += heat_kw[:, j]
        mv_battery_kw, battery_wijk_kw = self.batteries.block(
            i0, home_p_kw, rooftop_pv_kw, extra_p_kw, wijk_net_mw * 1000.0 + heat_wijk_kw, battery_limit_kw)
        hubs_kw = np.zeros((len(time_utc), len(self.charging_hub_ids))) if charging_hub_kw is None else charging_hub_kw
        mv_load_mw = np.hstack([heat_kw, mv_battery_kw, hubs_kw]) / 1000.0
        return mv_load_mw, heat_wijk_kw / 1000.0, battery_wijk_kw / 1000.0

    def report(self) -> dict:
        """Keyword arguments for `energy_sim.results.dataset.horizon_dataset`."""
        table, heat, electricity = self.heat.report()
        return {"heat_networks": table, "heat_by_source_mwh": heat, "electricity_by_source_mwh": electricity,
                "batteries": self.batteries.report()}


def heat_network_dwellings(scenario, wijk_codes: Sequence[str]) -> dict[str, int]:
    """Dwellings on a heat network per simulated wijk (all networks of the wijk together)."""
    out = {code: 0 for code in wijk_codes}
    for h in scenario.assets.heat_networks:
        if h.wijk in out:
            out[h.wijk] += h.connected_dwellings
    return out


def assets_in_run(scenario, wijk_codes: Sequence[str], lv_grids: dict, home_ids: dict[str, list[str]],
                  extra_ids: dict[str, list[str]], mv_connections: pd.DataFrame,
                  active_of: Callable[[object], np.ndarray], dt_h: float,
                  charging_hub_ids: Sequence[str] = ()) -> AssetsInRun:
    """The heat networks and batteries of a scenario's simulated wijken, wired to the run's arrays.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    wijk_codes : sequence of str
        Simulated wijken in the engine's order.
    lv_grids : dict of str to list of LvGrid
        The city's LV grids per wijk (their ``connections`` tables).
    home_ids, extra_ids : dict of str to list of str
        Per wijk, the column order of the engine's per-home and extra arrays.
    mv_connections : pandas.DataFrame
        The MV network's ``connections`` table (``connection_id``, ``kind``).
    active_of : callable
        Asset -> in-service flag per step of the horizon (``[n_time]``).
    dt_h : float
        Step length [h].
    charging_hub_ids : sequence of str
        The MV charging hubs (`energy_sim.events.wiring.mv_charging_hub_ids`),
        whose power the engine passes to `AssetsInRun.block`.
    """
    on_mv = dict(zip(mv_connections.connection_id, mv_connections.kind))
    wijk_of = {w.code: w for w in scenario.wijken}
    networks = [h for h in scenario.assets.heat_networks if h.wijk in wijk_codes and h.name in on_mv]
    heat = HeatNetworksInRun(
        [h.name for h in networks], [h.wijk for h in networks], [heat_network_model(h) for h in networks],
        [load_building_archetype(wijk_of[h.wijk].building_archetype) for h in networks],
        [active_of(h) > 0 for h in networks], dt_h,
    )
    lv, mv = [], []
    for a in scenario.assets.batteries:
        if a.wijk not in wijk_codes:
            continue
        fleet = BatteryFleet(e_max_kwh=a.e_kwh, p_max_kw=a.p_kw, soc_min_frac=BATTERY_SOC_MIN_FRAC)
        common = dict(name=a.name, wijk=a.wijk, rule=DispatchRule(a.dispatch.value), fleet=fleet,
                      active=active_of(a) > 0)
        if a.name in on_mv:
            mv.append(_Battery(level="mv", **common))
            continue
        home_column = {cid: i for i, cid in enumerate(home_ids[a.wijk])}
        extra_column = {cid: i for i, cid in enumerate(extra_ids[a.wijk])}
        for grid in lv_grids[a.wijk]:
            conns = grid.connections
            if a.name not in set(conns.connection_id):
                continue
            homes = conns.connection_id[conns.kind == "household"]
            others = conns.connection_id[(conns.element == "load") & (conns.kind != "household")
                                         & (conns.connection_id != a.name)]
            lv.append(_Battery(level="lv", home_columns=_columns([home_column[c] for c in homes]),
                               extra_columns=_columns([extra_column[c] for c in others]),
                               own_column=extra_column[a.name], grid=grid.name, **common))
            break
        else:
            raise ValueError(f"battery {a.name!r} is on no LV grid of wijk {a.wijk} nor on the MV network")
    return AssetsInRun(heat, BatteriesInRun(lv + mv, wijk_codes, dt_h), list(charging_hub_ids), list(wijk_codes))


def _homes_sum_kw(per_home, code: str, columns) -> np.ndarray:
    """The sum over the homes `columns` of wijk `code` [kW] ``[n_step]`` float64: the engine's factored
    inputs (``homes_sum_kw`` of `energy_sim.grid.simulate.HomePower` and `PvPerKwp`) sum a grid's homes
    without building the wijk's per-home array; per-home arrays are summed as they are."""
    if hasattr(per_home, "homes_sum_kw"):
        return per_home.homes_sum_kw(code, columns)
    return per_home[code][:, columns].sum(axis=1, dtype=np.float64)

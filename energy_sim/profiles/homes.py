"""The homes of a wijk in a run, and their power in one block.

`wijk_homes` decides, once per run, who in a wijk has rooftop PV and a heat
pump, each home's annual electricity use, its daily routines and its
heat-loss coefficient; `WijkHomes.block` turns that into the block's
household load, heat-pump power, reactive power and rooftop PV per home, in
the column order of the wijk's household connections on the grid.

Random streams: every draw comes from ``np.random.default_rng([seed, STREAM,
k, ...])`` with ``k`` the wijk's place among the simulated wijken (see
`energy_sim.engine` for the full list of streams).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_sim.profiles.heat import heat_pump_group_electric_kw, load_building_archetype
from energy_sim.profiles.household import household_load_kw, household_traits

STREAM_ADOPTION = 2
STREAM_HOUSEHOLD_TRAITS = 3
STREAM_HOUSEHOLD_NOISE = 4
STREAM_ANNUAL_USE = 5
STREAM_HEAT_DEMAND = 6

#: Household power factor: cos(phi) = 0.97 inductive, a typical value for
#: aggregated Dutch residential load (assumption; SimBench household profiles
#: average a similar ratio). q = p * tan(acos(0.97)).
HOUSEHOLD_Q_PER_P = float(np.tan(np.arccos(0.97)))

#: Spread of annual electricity use between homes (lognormal sigma). Milieu
#: Centraal averages range from ~1,800 kWh (1 person) to ~4,500 kWh (5
#: persons) around a mean of ~2,700 kWh: a coefficient of variation of
#: ~0.35 (assumption derived from those figures).
ANNUAL_USE_SIGMA = 0.35

#: Spread of space-heating demand between homes of one archetype (lognormal
#: sigma of the heat-loss coefficient; assumption: occupants, orientation and
#: partial renovations vary the demand of similar homes by roughly +-25 %).
HEAT_LOSS_SIGMA = 0.25


@dataclass
class HeatPumpGroup:
    """The homes of a wijk with one heat-pump type (columns into the wijk's arrays)."""

    columns: np.ndarray
    model: str
    h_w_k: np.ndarray  # heat-loss coefficient per home [W/K]
    t_base_degc: float
    dhw_kwh_per_year: float

    def electric_kw(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray) -> np.ndarray:
        """Electricity of the group's heat pumps [kW], ``[n_step, n_home]`` (space heat, hot water, backup)."""
        return heat_pump_group_electric_kw(time_utc, t_amb_degc, self.h_w_k, self.t_base_degc,
                                           self.dhw_kwh_per_year, self.model)


@dataclass
class HomesBlock:
    """The homes' power in one block, ``[n_step, n_home]`` each, float32 [kW / kvar]."""

    load_kw: np.ndarray  # household appliances, lighting, cooking ...
    heat_pump_kw: np.ndarray  # all-electric and hybrid heat pumps (0 for homes without)
    q_kvar: np.ndarray  # reactive power of the household load (heat pumps run at cos(phi) ~ 1)
    pv_kw: np.ndarray  # rooftop PV feed-in (positive)

    @property
    def p_kw(self) -> np.ndarray:
        """Active power drawn per home [kW]: household load plus heat pump."""
        return self.load_kw + self.heat_pump_kw


@dataclass
class WijkHomes:
    """The homes of one wijk in the column order of its per-home arrays."""

    code: str
    ids: list[str]
    annual_kwh: np.ndarray
    pv_kwp: np.ndarray
    traits: object
    heat_pumps: list[HeatPumpGroup]

    def heat_pump_kw(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray) -> np.ndarray:
        """Electricity of every home's heat pump [kW], ``[n_step, n_home]`` float32 (0 without one)."""
        out = np.zeros((len(time_utc), len(self.ids)), dtype=np.float32)
        for group in self.heat_pumps:
            out[:, group.columns] = group.electric_kw(time_utc, t_amb_degc)
        return out

    def block(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray, pv_kw_per_kwp: np.ndarray,
              rng: np.random.Generator) -> HomesBlock:
        """The homes' power over the block at `time_utc`.

        Parameters
        ----------
        time_utc : pandas.DatetimeIndex
            Steps of the block [UTC].
        t_amb_degc : numpy.ndarray
            Outdoor temperature per step [°C].
        pv_kw_per_kwp : numpy.ndarray
            Rooftop PV output per kWp per step [kW/kWp].
        rng : numpy.random.Generator
            The block's generator for household noise and appliance events
            (``[seed, STREAM_HOUSEHOLD_NOISE, k, block]``).
        """
        load = household_load_kw(time_utc, self.annual_kwh, rng=rng, traits=self.traits)
        return HomesBlock(
            load_kw=load,
            heat_pump_kw=self.heat_pump_kw(time_utc, t_amb_degc),
            q_kvar=load * HOUSEHOLD_Q_PER_P,
            pv_kw=pv_kw_per_kwp[:, None] * self.pv_kwp[None, :],
        )


def wijk_homes(w, k: int, ids: list[str], seed: int, n_on_heat_network: int = 0) -> WijkHomes:
    """The homes of wijk `w`, number `k` in the run: who has PV and heat pumps, annual use, routines, heat loss.

    The first `n_on_heat_network` homes (those of the wijk's first LV grids:
    a heat network serves a contiguous part of a wijk) are heated by a heat
    network (`energy_sim.profiles.assets_in_runs`) and get no heat pump; the
    heat-pump shares stay shares of all the wijk's dwellings, drawn from the
    other homes (at most all of them). Their gas boilers, like every home's,
    are not part of the electricity results.

    Parameters
    ----------
    w : energy_sim.scenario.schema.Wijk
        The wijk as the scenario gives it (adoption, use, archetype, models).
    k : int
        Its place among the simulated wijken (selects its random streams).
    ids : list of str
        Household connection ids of its grids, in column order.
    seed : int
        The scenario's seed.
    n_on_heat_network : int
        Dwellings of the wijk on heat networks.
    """
    n = len(ids)
    adoption_rng = np.random.default_rng([seed, STREAM_ADOPTION, k])
    has_pv = _adopters(adoption_rng, n, w.adoption.pv_frac)
    use_rng = np.random.default_rng([seed, STREAM_ANNUAL_USE, k])
    annual = w.electricity_kwh_per_dwelling_per_year * use_rng.lognormal(-0.5 * ANNUAL_USE_SIGMA**2, ANNUAL_USE_SIGMA, n)
    # one shared day factor for the whole city (common_seed), per-home routines per wijk
    traits = household_traits(n, rng=np.random.default_rng([seed, STREAM_HOUSEHOLD_TRAITS, k]), common_seed=seed)
    heat_order = adoption_rng.permutation(n)
    heat_order = heat_order[heat_order >= min(n_on_heat_network, n)]
    n_hp = min(int(round(w.adoption.heat_pump_frac * n)), len(heat_order))
    n_hybrid = min(int(round(w.adoption.hybrid_heat_pump_frac * n)), len(heat_order) - n_hp)
    archetype = load_building_archetype(w.building_archetype)
    heat_rng = np.random.default_rng([seed, STREAM_HEAT_DEMAND, k])
    groups = []
    for columns, model in ((np.sort(heat_order[:n_hp]), w.heat_pump_model),
                           (np.sort(heat_order[n_hp:n_hp + n_hybrid]), w.hybrid_heat_pump_model)):
        if len(columns):
            h_w_k = archetype.h_w_k * heat_rng.lognormal(-0.5 * HEAT_LOSS_SIGMA**2, HEAT_LOSS_SIGMA, len(columns))
            groups.append(HeatPumpGroup(columns, model, h_w_k, archetype.t_base_degc, archetype.dhw_kwh_per_year))
    return WijkHomes(w.code, ids, annual, np.where(has_pv, w.pv_kwp_per_home, 0.0), traits, groups)


def _adopters(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Exactly round(share * n) homes, chosen at random."""
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.permutation(n)[: int(round(share * n))]] = True
    return chosen

"""The homes of a wijk in a run, and their power in one block.

`wijk_homes` decides, once per run, who in a wijk has rooftop PV and a heat
pump, each home's annual electricity use, its daily routines and its
heat-loss coefficient; `WijkHomes.block` turns that into the block's
household load per home, in the column order of the wijk's household
connections on the grid, the electricity of the heat pumps of the homes
that have one, and the wijk's totals per step (household load, heat
pumps, rooftop PV).

Three quantities per home are not written as arrays, because they follow
from others (the engine hands them to the load flow in that form,
`energy_sim.grid.simulate.HomePower`, `HouseholdReactive` and `PvPerKwp`):
the active power, the household load plus the home's heat pump if it has
one; the reactive power, ``HOUSEHOLD_Q_PER_P`` times the household load;
and rooftop PV, the output per kWp times the home's kWp. Writing them for
40,000 homes cost ~3 s of memory traffic a city-year.

Random streams: every draw comes from ``np.random.default_rng([seed, STREAM,
k, ...])`` with ``k`` the wijk's place among the simulated wijken (see
`energy_sim.engine` for the full list of streams).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from energy_sim.profiles.heat import HeatPumpHomes, load_building_archetype
from energy_sim.profiles.household import HouseholdConnections, household_traits

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
    """The homes of a wijk with one heat-pump type: their columns in the wijk's arrays, and their heat pumps."""

    columns: np.ndarray
    homes: HeatPumpHomes


@dataclass
class HomesBlock:
    """The homes' power in one block.

    Per home the household load ``[n_step, n_home]`` float32 [kW], in the
    column order of the wijk's household connections; the heat pumps of the
    homes that have one, ``[n_step, n_heat_pump]`` float32 [kW] in the
    columns ``heat_pump_columns``; per step the wijk's totals ``[n_step]``
    float64 [kW]. A home's active power is its household load plus its heat
    pump (`p_kw`); the engine hands the load flow these two parts
    (`energy_sim.grid.simulate.HomePower`) rather than a per-home array of
    their sum. `WijkHomes.block` fills a block in place (``out``): a run
    streams its blocks through one set of arrays, rather than
    page-faulting fresh memory for each block.
    """

    household_kw: np.ndarray  # appliances, lighting, cooking ... (CityHomesBlock: the wijk's columns of the city's)
    heat_pump_columns: np.ndarray  # int64: the homes with a heat pump (all-electric or hybrid)
    heat_pump_kw: np.ndarray  # their heat pumps' electricity
    household_total_kw: np.ndarray  # household load of all the homes, without heat pumps
    heat_pump_total_kw: np.ndarray
    pv_total_kw: np.ndarray

    def p_kw(self, columns=None) -> np.ndarray:
        """Active power drawn, household load plus heat pump [kW], ``[n_step, n]`` float32, of the homes
        `columns` (indices; default all), as a new array."""
        columns = np.arange(self.household_kw.shape[1]) if columns is None else np.asarray(columns, np.int64)
        p = self.household_kw[:, columns]
        position = self._heat_pump_position[columns]
        mine = position >= 0
        p[:, mine] += self.heat_pump_kw[:, position[mine]]
        return p

    @cached_property
    def _heat_pump_position(self) -> np.ndarray:
        """Per home its column in `heat_pump_kw`, -1 without a heat pump (the arrays are refilled block
        after block, the homes stay)."""
        position = np.full(self.household_kw.shape[1], -1, np.int64)
        position[self.heat_pump_columns] = np.arange(self.heat_pump_columns.size)
        return position


@dataclass
class WijkHomes:
    """The homes of one wijk in the column order of its per-home arrays."""

    code: str
    ids: list[str]
    annual_kwh: np.ndarray
    pv_kwp: np.ndarray
    traits: object
    heat_pumps: list[HeatPumpGroup]

    @cached_property
    def heat_pump_columns(self) -> np.ndarray:
        """The homes with a heat pump (int64), group after group: the columns of `heat_pumps_kw` (worked out
        once: the engine asks every block)."""
        return np.concatenate([np.zeros(0, np.int64)] + [g.columns for g in self.heat_pumps]).astype(np.int64)

    def empty_block(self, n_step: int, household_kw: np.ndarray | None = None) -> HomesBlock:
        """Arrays for a block of `n_step` steps, to fill with `block` (unset); `household_kw`: the array to
        hold the household load, if not a new one."""
        columns = self.heat_pump_columns
        if household_kw is None:
            household_kw = np.empty((n_step, len(self.ids)), np.float32)
        return HomesBlock(
            household_kw=household_kw, heat_pump_columns=columns,
            heat_pump_kw=np.empty((n_step, columns.size), np.float32), household_total_kw=np.empty(n_step),
            heat_pump_total_kw=np.empty(n_step), pv_total_kw=np.empty(n_step),
        )

    def heat_pumps_kw(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray) -> np.ndarray:
        """Electricity of the heat pumps [kW], ``[n_step, n_heat_pump]`` float32, in the columns
        `heat_pump_columns`."""
        if not self.heat_pumps:
            return np.zeros((len(time_utc), 0), np.float32)
        return np.hstack([g.homes.electric_kw(time_utc, t_amb_degc) for g in self.heat_pumps])

    def block(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray, pv_kw_per_kwp: np.ndarray,
              rng: np.random.Generator, out: HomesBlock | None = None) -> HomesBlock:
        """The homes' power over the block at `time_utc`.

        Parameters
        ----------
        time_utc : pandas.DatetimeIndex
            Steps of the block [UTC].
        t_amb_degc : numpy.ndarray
            Outdoor temperature per step [°C].
        pv_kw_per_kwp : numpy.ndarray
            Rooftop PV output per kWp per step [kW/kWp], for the wijk's total.
        rng : numpy.random.Generator
            The block's generator for household noise and appliance events
            (``[seed, STREAM_HOUSEHOLD_NOISE, k, block]``).
        out : HomesBlock, optional
            Arrays to fill in place, from ``empty_block(len(time_utc))``;
            their previous contents are lost. Default: new arrays.
        """
        if out is None:
            out = self.empty_block(len(time_utc))
        elif out.household_kw.shape != (len(time_utc), len(self.ids)):
            raise ValueError(f"out holds {out.household_kw.shape} values, the block needs "
                             f"{(len(time_utc), len(self.ids))}")
        HouseholdConnections([(self.annual_kwh, self.traits)]).load_kw(
            time_utc, [rng], out=out.household_kw, group_total_kw=out.household_total_kw[None, :])
        out.heat_pump_kw[...] = self.heat_pumps_kw(time_utc, t_amb_degc)
        return self._totals(pv_kw_per_kwp, out)

    def _totals(self, pv_kw_per_kwp: np.ndarray, out: HomesBlock) -> HomesBlock:
        """The heat pumps' and the rooftop PV's totals of `out` (the household load's is there already)."""
        out.heat_pump_total_kw[:] = out.heat_pump_kw.sum(axis=1, dtype=np.float64)
        out.pv_total_kw[:] = np.asarray(pv_kw_per_kwp) * self._pv_kwp_total
        return out

    @cached_property
    def _pv_kwp_total(self) -> float:
        return float(self.pv_kwp.sum())


class CityHomesBlock:
    """The homes of every simulated wijk in one block, the household load of the whole city in one call.

    ``household_kw`` ``[n_step, n_home of all wijken]`` float32 holds the
    household load of the wijken's homes side by side, in run order
    (``columns[code]`` each wijk's; the load flow reads the homes' active
    and reactive power from it); ``wijk[code]`` is each wijk's
    `HomesBlock`, its ``household_kw`` a view of its columns. `fill`
    computes every wijk's household load in one `HouseholdConnections.load_kw`
    call (the homes prepared once), with each wijk's own generator, so the
    result is what `WijkHomes.block` gives per wijk (bit for bit; the
    household totals, which the kernel sums in other pieces, to rounding),
    and two numba threads share one parallel region per block instead of
    one per wijk. The heat pumps of all wijken are computed likewise, one
    call per heat-pump type (`HeatPumpHomes.concat`). The arrays are reused
    by every block of the same length.
    """

    def __init__(self, homes: list[WijkHomes], n_step: int):
        self.homes = homes
        self.household = HouseholdConnections([(h.annual_kwh, h.traits) for h in homes])
        self.household_kw = np.empty((n_step, sum(len(h.ids) for h in homes)), np.float32)
        edges = np.cumsum([0] + [len(h.ids) for h in homes])
        self.columns = {h.code: slice(a, z) for h, a, z in zip(homes, edges[:-1], edges[1:])}
        self.wijk = {h.code: h.empty_block(n_step, self.household_kw[:, self.columns[h.code]]) for h in homes}
        self._household_total_kw = np.empty((len(homes), n_step))
        # heat pumps by type: the homes of every wijk side by side, and per wijk its groups' place in them
        by_type: dict = {}
        for h in homes:
            for g in h.heat_pumps:
                by_type.setdefault(g.homes.heat_pump, []).append((h.code, g))
        self._heat_pump_types = [HeatPumpHomes.concat([g.homes for _, g in members]) for members in by_type.values()]
        self._heat_pump_type_kw = [np.empty((n_step, t.h_w_k.size), np.float32) for t in self._heat_pump_types]
        self._heat_pump_parts: dict[str, list[tuple[int, slice]]] = {h.code: [] for h in homes}
        for t, members in enumerate(by_type.values()):
            start = 0
            for code, g in members:
                self._heat_pump_parts[code].append((t, slice(start, start + g.columns.size)))
                start += g.columns.size

    @property
    def n_step(self) -> int:
        return self.household_kw.shape[0]

    def fill(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray, pv_kw_per_kwp: np.ndarray,
             rngs: list[np.random.Generator]) -> dict[str, HomesBlock]:
        """Every wijk's homes over the block at `time_utc` (see `WijkHomes.block`); `rngs` one per wijk, in order."""
        if len(time_utc) != self.n_step:
            raise ValueError(f"the block has {len(time_utc)} steps, these arrays {self.n_step}")
        self.household.load_kw(time_utc, rngs, out=self.household_kw, group_total_kw=self._household_total_kw)
        type_kw = [homes.electric_kw(time_utc, t_amb_degc, out=out)
                   for homes, out in zip(self._heat_pump_types, self._heat_pump_type_kw)]
        for h, total_kw in zip(self.homes, self._household_total_kw):
            block = self.wijk[h.code]
            block.household_total_kw[:] = total_kw
            parts = [type_kw[t][:, columns] for t, columns in self._heat_pump_parts[h.code]]
            if parts:
                np.concatenate(parts, axis=1, out=block.heat_pump_kw)
            h._totals(pv_kw_per_kwp, block)
        return self.wijk


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
            groups.append(HeatPumpGroup(columns, HeatPumpHomes.of(h_w_k, archetype.t_base_degc,
                                                                  archetype.dhw_kwh_per_year, model)))
    return WijkHomes(w.code, ids, annual, np.where(has_pv, w.pv_kwp_per_home, 0.0), traits, groups)


def _adopters(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Exactly round(share * n) homes, chosen at random."""
    chosen = np.zeros(n, dtype=bool)
    chosen[rng.permutation(n)[: int(round(share * n))]] = True
    return chosen

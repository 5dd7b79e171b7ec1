"""The homes of a wijk in a run, and their power in one block.

`wijk_homes` decides, once per run, who in a wijk has rooftop PV and a heat
pump, each home's annual electricity use, its daily routines and its
heat-loss coefficient; `WijkHomes.block` turns that into the block's
active power (household load plus heat pump) and heat-pump power per home,
in the column order of the wijk's household connections on the grid, and
the wijk's totals per step (household load, heat pumps, rooftop PV).

Two quantities per home are not written as arrays, because they are fixed
multiples of others (the engine hands them to the load flow in that form,
`energy_sim.grid.simulate.HouseholdReactive` and `PvPerKwp`): the reactive
power, ``HOUSEHOLD_Q_PER_P`` times the household load, and rooftop PV, the
output per kWp times the home's kWp. Writing them for 40,000 homes cost
~2 s of memory traffic a city-year.

Random streams: every draw comes from ``np.random.default_rng([seed, STREAM,
k, ...])`` with ``k`` the wijk's place among the simulated wijken (see
`energy_sim.engine` for the full list of streams).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit, prange

from energy_sim.profiles.heat import HeatPumpHomes, load_building_archetype
from energy_sim.profiles.household import HouseholdConnections, household_load_kw, household_traits

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

    Per home ``[n_step, n_home]`` float32 [kW], in the column order of the
    wijk's household connections; per step the wijk's totals ``[n_step]``
    float64 [kW]. The homes' reactive power and rooftop PV are multiples
    of the household load and of the PV per kWp (see the module's text).
    `WijkHomes.block` fills a block in place (``out``): a run streams its
    blocks through one set of arrays, rather than page-faulting fresh
    memory for each block.
    """

    p_kw: np.ndarray  # active power drawn: household load (appliances, lighting, cooking ...) plus heat pump
    heat_pump_kw: np.ndarray  # all-electric and hybrid heat pumps (0 for homes without)
    household_total_kw: np.ndarray  # household load of all the homes, without heat pumps
    heat_pump_total_kw: np.ndarray
    pv_total_kw: np.ndarray


@dataclass
class WijkHomes:
    """The homes of one wijk in the column order of its per-home arrays."""

    code: str
    ids: list[str]
    annual_kwh: np.ndarray
    pv_kwp: np.ndarray
    traits: object
    heat_pumps: list[HeatPumpGroup]

    def empty_block(self, n_step: int) -> HomesBlock:
        """Arrays for a block of `n_step` steps, to fill with `block` (heat pumps zero, the rest unset)."""
        shape = (n_step, len(self.ids))
        return HomesBlock(
            p_kw=np.empty(shape, np.float32), heat_pump_kw=np.zeros(shape, np.float32),
            household_total_kw=np.empty(n_step), heat_pump_total_kw=np.empty(n_step), pv_total_kw=np.empty(n_step),
        )

    def heat_pump_kw(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray) -> np.ndarray:
        """Electricity of every home's heat pump [kW], ``[n_step, n_home]`` float32 (0 without one)."""
        out = np.zeros((len(time_utc), len(self.ids)), dtype=np.float32)
        columns, kw = self._heat_pumps_kw(time_utc, t_amb_degc)
        out[:, columns] = kw
        return out

    def _heat_pumps_kw(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The columns of the homes with a heat pump (int64) and their heat pumps' electricity [kW],
        ``[n_step, n_with]`` float32."""
        if not self.heat_pumps:
            return np.zeros(0, np.int64), np.zeros((len(time_utc), 0), np.float32)
        return (np.concatenate([g.columns for g in self.heat_pumps]).astype(np.int64),
                np.hstack([g.homes.electric_kw(time_utc, t_amb_degc) for g in self.heat_pumps]))

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
            Arrays to fill in place, from ``empty_block(len(time_utc))`` and
            since then only filled by this method (outside its heat-pump
            columns, ``heat_pump_kw`` must still be zero); their previous
            contents are lost. Default: new arrays.
        """
        if out is None:
            out = self.empty_block(len(time_utc))
        elif out.p_kw.shape != (len(time_utc), len(self.ids)):
            raise ValueError(f"out holds {out.p_kw.shape} values, the block needs {(len(time_utc), len(self.ids))}")
        household_load_kw(time_utc, self.annual_kwh, rng=rng, traits=self.traits, out=out.p_kw)
        return self._complete(time_utc, t_amb_degc, pv_kw_per_kwp, out.p_kw, out)

    def _complete(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray, pv_kw_per_kwp: np.ndarray,
                  load_kw: np.ndarray, out: HomesBlock,
                  heat_pumps: tuple[np.ndarray, np.ndarray] | None = None) -> HomesBlock:
        """`block` from the household load `load_kw` ``[n_step, n_home]`` (``out.p_kw`` itself, or the wijk's
        columns of a city array): household load plus heat pumps, totals. `heat_pumps`: what
        `_heat_pumps_kw` returns, if computed already."""
        columns, hp_kw = self._heat_pumps_kw(time_utc, t_amb_degc) if heat_pumps is None else heat_pumps
        _complete_block(load_kw, out.p_kw, out.heat_pump_kw, out.household_total_kw, out.heat_pump_total_kw,
                        columns, hp_kw)
        out.pv_total_kw[:] = np.asarray(pv_kw_per_kwp) * self.pv_kwp.sum()
        return out


class CityHomesBlock:
    """The homes of every simulated wijk in one block, the household load of the whole city in one call.

    ``household_kw`` ``[n_step, n_home of all wijken]`` float32 holds the
    household load of the wijken's homes side by side, in run order
    (``columns[code]`` each wijk's; the load flow reads the homes' reactive
    power from it); ``wijk[code]`` is each wijk's `HomesBlock` (contiguous
    arrays of its own, as the load flow reads them). `fill` computes every wijk's
    household load in one `HouseholdConnections.load_kw` call (the homes prepared once), with each wijk's
    own generator, so the result is what `WijkHomes.block` gives per wijk
    (bit for bit), and two numba threads share one parallel region per
    block instead of one per wijk. The heat pumps of all wijken are
    computed likewise, one call per heat-pump type (`HeatPumpHomes.concat`).
    The arrays are reused by every block of the same length.
    """

    def __init__(self, homes: list[WijkHomes], n_step: int):
        self.homes = homes
        self.household = HouseholdConnections([(h.annual_kwh, h.traits) for h in homes])
        self.household_kw = np.empty((n_step, sum(len(h.ids) for h in homes)), np.float32)
        edges = np.cumsum([0] + [len(h.ids) for h in homes])
        self.columns = {h.code: slice(a, z) for h, a, z in zip(homes, edges[:-1], edges[1:])}
        self.wijk = {h.code: h.empty_block(n_step) for h in homes}
        # heat pumps by type: the homes of every wijk side by side, and per wijk its groups' place in them
        by_type: dict = {}
        for h in homes:
            for g in h.heat_pumps:
                by_type.setdefault(g.homes.heat_pump, []).append((h.code, g))
        self._heat_pump_types = [HeatPumpHomes.concat([g.homes for _, g in members]) for members in by_type.values()]
        self._heat_pump_parts: dict[str, list[tuple[int, slice]]] = {h.code: [] for h in homes}
        for t, members in enumerate(by_type.values()):
            start = 0
            for code, g in members:
                self._heat_pump_parts[code].append((t, slice(start, start + g.columns.size)))
                start += g.columns.size
        self._heat_pump_columns = {h.code: np.concatenate([np.zeros(0, np.int64)] + [g.columns for g in h.heat_pumps])
                                   .astype(np.int64) for h in homes}

    @property
    def n_step(self) -> int:
        return self.household_kw.shape[0]

    def fill(self, time_utc: pd.DatetimeIndex, t_amb_degc: np.ndarray, pv_kw_per_kwp: np.ndarray,
             rngs: list[np.random.Generator]) -> dict[str, HomesBlock]:
        """Every wijk's homes over the block at `time_utc` (see `WijkHomes.block`); `rngs` one per wijk, in order."""
        if len(time_utc) != self.n_step:
            raise ValueError(f"the block has {len(time_utc)} steps, these arrays {self.n_step}")
        self.household.load_kw(time_utc, rngs, out=self.household_kw)
        type_kw = [homes.electric_kw(time_utc, t_amb_degc) for homes in self._heat_pump_types]
        for h in self.homes:
            parts = [type_kw[t][:, columns] for t, columns in self._heat_pump_parts[h.code]]
            hp_kw = parts[0] if len(parts) == 1 else np.hstack(parts) if parts else np.zeros((self.n_step, 0), np.float32)
            h._complete(time_utc, t_amb_degc, pv_kw_per_kwp, self.household_kw[:, self.columns[h.code]],
                        self.wijk[h.code], (self._heat_pump_columns[h.code], hp_kw))
        return self.wijk


@njit(cache=True, parallel=True, fastmath={"reassoc", "nsz"})
def _complete_block(load_kw, p_kw, heat_pump_kw, household_total_kw, heat_pump_total_kw, hp_columns,
                    hp_kw):  # pragma: no cover - compiled
    """`WijkHomes.block` after the household load, in one pass over the block's rows (each array is read
    or written once, a row at a time, rather than once per numpy operation; rows in parallel).

    ``load_kw`` is the household load (it may be ``p_kw`` itself); per step ``k`` this copies it to
    ``p_kw``, writes the heat pumps ``hp_kw`` (``[n_step, n_hp]``, into columns `hp_columns` of
    ``heat_pump_kw``, which stays untouched elsewhere), adds them to ``p_kw``, and sums the household
    load and the heat pumps over the homes in float64. The per-home values are the float32 operations
    numpy would do; the sums' order is free (``reassoc``; with ``nsz`` too, LLVM vectorises the float32 to
    float64 sum: 0.26 against 0.34 ms for a block of 4,000 homes), and each row's sum is one thread's, so
    the result does not depend on the number of threads.
    """
    n_step, n_home = p_kw.shape
    for k in prange(n_step):
        load_sum = 0.0
        for j in range(n_home):
            load = load_kw[k, j]
            p_kw[k, j] = load
            load_sum += load
        hp_sum = 0.0
        for i in range(hp_columns.size):
            c = hp_columns[i]
            p_kw[k, c] += hp_kw[k, i]
            heat_pump_kw[k, c] = hp_kw[k, i]
            hp_sum += hp_kw[k, i]
        household_total_kw[k] = load_sum
        heat_pump_total_kw[k] = hp_sum


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

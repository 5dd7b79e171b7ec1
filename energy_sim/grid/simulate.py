"""Solve a city's grids block by block: LV grids, then the MV network above them.

Hierarchy (DESIGN.md decision 4).  Every LV grid is solved on its own with its
MV/LV transformer's 10 kV side held at 1.0 p.u.; the power each draws there
(the slack infeed) becomes the load of its substation in the MV network,
which is solved next.  LV voltages are then scaled by the MV voltage found at
their substation.  Transformer and feeder loadings are those of the LV solve
at 1.0 p.u.

The coupling and its error.  The scaling is the coupling's only
approximation.  With constant-power loads, ``a`` times the LV state solved at
1.0 p.u. is the exact state at MV voltage ``a`` for loads ``a**2`` times the
real ones (``Y (a v) = conj(a**2 s / (a v))``): LV currents come out a factor
``a`` instead of ``1/a``, so loadings are off by about ``|1 - a|`` of their
value and LV voltage drops ``d`` by about ``2 |1 - a| d``.  Measured
(tests/grid/test_simulate.py::test_hierarchy_against_one_combined_runpp: one
combined pandapower net, MV net with the LV grids attached at their
substation buses, solved by ``runpp``; 3 generated LV grids, 8 loaded steps,
MV voltage 1.030 p.u. at the substations, the station's tap setting): max
|Δvm| on LV buses 3.2e-3 p.u., max |Δloading| 1.3 pct-pt (transformers) and
1.6 pct-pt (feeder heads) at loadings up to ~60 %, within the first-order
bound above.  Where these matter (loadings near 100 %), read results with that
margin; an exact variant would re-solve the LV grids with the substation
voltage (doubling the LV cost).  The standalone LV solves themselves match
``runpp`` to 1e-6 p.u. and 0.01 pct-pt (same test file).

LV solver.  By default all LV grids are solved together as one block-diagonal
system (`energy_sim.grid.multinet.MultiNetLoadFlow`: one ``runpp`` on the
merged LV nets for the model, one compiled call per block); the home ->
element maps are folded into one `energy_sim.grid.multinet.SourceMap`, so
the compiled solve reads the engine's per-home arrays directly. The homes'
active power may come as the household load plus additions in some homes
(`HomePower`: heat pumps, EV chargers), their reactive power and rooftop
PV as multiples (`HouseholdReactive`: a ratio times the household load;
`PvPerKwp`: output per kWp per transformer times each home's kWp), folded
into the map's weights, so the engine writes no per-home arrays for them.
``lv_solver="per_grid"`` keeps the original one-`BatchedLoadFlow`-per-grid
path (same results to ~1e-12); ``lv_solver="pandapower"`` solves every LV
grid and the MV network with ``pandapower.runpp`` per step, the reference a
scenario selects with ``grid.solver: pandapower``.

Outages.  `solve_block` takes an optional per-step `MvTopology` (10 kV
cables out of service, and whether the operator restored supply by closing
the ring's normally-open switch) and an optional per-step mask of LV grids
whose MV/LV transformer is out.  One `BatchedLoadFlow` is built per distinct
MV topology (one ``runpp`` and one factorisation, cached for the run) and
solves that topology's steps.  An LV grid without supply (its transformer
out, or its substation cut off from every station) carries nothing: zero
transformer and feeder loading, no voltage (NaN, left out of the voltage
figures), nothing drawn from the MV network; the consumption its
connections asked for is returned as ``lv_unserved_p_mw`` (energy not
served).  Without outages the block is solved exactly as before.

Only what users read is kept (DESIGN.md decision 5): transformer and
feeder-head loading series, per-wijk minimum/maximum voltage series, and
per-bus minimum/maximum voltage and hours outside the band, reduced per block
in one compiled pass (`_voltage_extremes`) over a |V| buffer reused from
block to block.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import networkx as nx
import numba
import numpy as np
import pandas as pd
import pandapower.topology as pp_topology
import scipy.sparse as sps

from energy_sim.grid.build import CityGrid, LvGrid, MvGrid
from energy_sim.grid.loadflow import BatchedLoadFlow, LoadFlowResult, PandapowerLoadFlow, describe_non_converged
from energy_sim.grid.multinet import MultiNetLoadFlow, SourceMap


class LvSolver(StrEnum):
    """How `CitySolver` solves the LV grids of a block."""

    #: all LV grids as one block-diagonal system, one compiled call per block (default)
    merged = "merged"
    #: one `BatchedLoadFlow` per LV grid (the original path; reference for tests)
    per_grid = "per_grid"
    #: ``pandapower.runpp`` per step for every LV grid and the MV network (`PandapowerLoadFlow`; slow)
    pandapower = "pandapower"


def _positions(index: pd.Index, labels) -> np.ndarray:
    positions = index.get_indexer(pd.Index(labels))
    if np.any(positions < 0):
        raise ValueError(f"elements {np.asarray(labels)[positions < 0][:5]} not found in the net")
    return positions


@dataclass(frozen=True, eq=False)
class LvPlan:
    """How one LV grid's elements take their power from the wijk's arrays."""

    grid: LvGrid
    wijk_code: str
    #: the grid's own solver (``LvSolver.per_grid`` and ``LvSolver.pandapower``; None when merged)
    solver: BatchedLoadFlow | PandapowerLoadFlow | None
    #: per net.load position: column in the wijk's per-home arrays, or -1
    load_home_column: np.ndarray
    #: per net.sgen position: column in the wijk's per-home arrays (rooftop PV), or -1
    sgen_home_column: np.ndarray
    #: per net.load position: column in the wijk's extra-connection arrays, or -1
    load_extra_column: np.ndarray
    #: positions (in the solver's line results) of cables leaving the LV busbar
    feeder_head_positions: np.ndarray
    #: positions (in the solver's bus results) of the LV buses
    lv_bus_positions: np.ndarray


@dataclass(frozen=True, eq=False)
class HomePower(Mapping):
    """Every home's active power as its household load plus what some homes add: heat pumps, EV chargers.

    An input of `CitySolver.solve_block` in place of per-home active power
    arrays: the merged LV solve reads the city's household load and each
    wijk's additions, so no per-home array of their sum is written or read.
    The engine adds heat pumps and EV charging in place (`add`), only to
    the homes that have them. As a mapping it gives, per wijk, its homes'
    active power [kW] ``[n_step, n_home]`` (computed on access), like the
    per-home arrays.

    Attributes
    ----------
    household_kw : numpy.ndarray
        Household load [kW] ``[n_step, n_home of all wijken]``, the wijken's
        homes side by side in the solver's wijk order (as
        `energy_sim.profiles.homes.CityHomesBlock.household_kw`); read only.
    columns : dict of str to slice
        Each wijk's columns of ``household_kw``.
    added_columns : dict of str to numpy.ndarray
        Per wijk, the homes (int64 columns of the wijk, distinct) that take
        additions.
    added_kw : dict of str to numpy.ndarray
        Per wijk, what those homes add [kW] ``[n_step, n_added]``.
    """

    household_kw: np.ndarray
    columns: dict[str, slice]
    added_columns: dict[str, np.ndarray]
    added_kw: dict[str, np.ndarray]
    #: per wijk and home its column in ``added_kw`` (-1: none), from ``added_columns``; `head` and `copy`
    #: pass theirs on
    _position: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._position is not None:
            return
        position = {}
        for code, cols in self.columns.items():
            pos = np.full(cols.stop - cols.start, -1, np.int64)
            pos[self.added_columns[code]] = np.arange(len(self.added_columns[code]))
            position[code] = pos
        object.__setattr__(self, "_position", position)

    @classmethod
    def zeros(cls, household_kw: np.ndarray, columns: dict[str, slice],
              added_columns: dict[str, np.ndarray]) -> HomePower:
        """The household load alone: additions of zero."""
        return cls(household_kw, columns, added_columns,
                   {c: np.zeros((household_kw.shape[0], len(a)), np.float32) for c, a in added_columns.items()})

    def __getitem__(self, code: str) -> np.ndarray:
        p = self.household_kw[:, self.columns[code]].copy()
        p[:, self.added_columns[code]] += self.added_kw[code]
        return p

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def add(self, code: str, columns, kw: np.ndarray) -> None:
        """Add `kw` [kW] ``[n_step, len(columns)]`` to the homes `columns` of wijk `code` (distinct, among its
        ``added_columns``), in place."""
        position = self._position[code][columns]
        if np.any(position < 0):
            raise ValueError(f"wijk {code}: homes {np.asarray(columns)[position < 0][:5]} take no additions "
                             "(not in added_columns)")
        self.added_kw[code][:, position] += kw

    def homes_sum_kw(self, code: str, columns) -> np.ndarray:
        """Active power of some homes of wijk `code` (`columns`: a slice or indices), summed [kW] ``[n_step]``,
        without the wijk's per-home array (what a battery behind those homes measures)."""
        household = self.household_kw[:, self.columns[code]][:, columns].sum(axis=1, dtype=np.float64)
        position = self._position[code][columns]
        return household + self.added_kw[code][:, position[position >= 0]].sum(axis=1, dtype=np.float64)

    def head(self, n_step: int) -> HomePower:
        """The first `n_step` steps (views: additions to them change these)."""
        return HomePower(self.household_kw[:n_step], self.columns, self.added_columns,
                         {c: a[:n_step] for c, a in self.added_kw.items()}, self._position)

    def copy(self, household: bool = True) -> HomePower:
        """With copies of the additions and, if `household`, of ``household_kw`` (which the engine
        overwrites every block; without, the copy shares it)."""
        return HomePower(self.household_kw.copy() if household else self.household_kw, self.columns,
                         self.added_columns, {c: a.copy() for c, a in self.added_kw.items()}, self._position)


@dataclass(frozen=True, eq=False)
class HouseholdReactive(Mapping):
    """The homes' reactive power as a fixed ratio of their household load: ``q = q_per_p * household_kw``.

    An input of `CitySolver.solve_block` in place of per-home reactive
    power arrays: the merged LV solve reads ``household_kw`` with the
    weight ``q_per_p``, so no reactive power array is written or read. As
    a mapping it gives, per wijk, its homes' reactive power [kvar] ``[n_step,
    n_home]`` (computed on access), like the per-home arrays.

    Attributes
    ----------
    household_kw : numpy.ndarray
        Household load [kW] ``[n_step, n_home of all wijken]``, the wijken's
        homes side by side in the solver's wijk order (as
        `energy_sim.profiles.homes.CityHomesBlock.household_kw`).
    q_per_p : float
        Reactive per active power of the household load [kvar/kW].
    columns : dict of str to slice
        Each wijk's columns of ``household_kw``.
    """

    household_kw: np.ndarray
    q_per_p: float
    columns: dict[str, slice]

    def __getitem__(self, code: str) -> np.ndarray:
        return self.household_kw[:, self.columns[code]] * self.household_kw.dtype.type(self.q_per_p)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def head(self, n_step: int) -> HouseholdReactive:
        """The first `n_step` steps."""
        return HouseholdReactive(self.household_kw[:n_step], self.q_per_p, self.columns)


@dataclass(frozen=True, eq=False)
class PvPerKwp(Mapping):
    """Rooftop PV of every home as its MV/LV transformer's output per kWp times the home's peak power.

    An input of `CitySolver.solve_block` in place of per-home PV arrays: the
    merged LV solve reads ``kw_per_kwp`` with each home's kWp as the weight
    at its bus, so no per-home PV array is written or read. One series per
    transformer, so the congestion manager's curtailment (a cap per
    transformer) stays in this form. As a mapping it gives, per wijk, its
    homes' PV [kW] ``[n_step, n_home]`` (computed on access).

    Attributes
    ----------
    kw_per_kwp : numpy.ndarray
        Output per kWp [kW/kWp] ``[n_step, n_lv_trafo]``, columns in the
        solver's ``lv_trafo_ids`` order.
    home_trafo : dict of str to numpy.ndarray
        Per wijk, each home's transformer (column of ``kw_per_kwp``), in the
        homes' column order.
    home_kwp : dict of str to numpy.ndarray
        Per wijk, each home's rooftop PV [kWp] (0 without), same order.
    """

    kw_per_kwp: np.ndarray
    home_trafo: dict[str, np.ndarray]
    home_kwp: dict[str, np.ndarray]

    def __getitem__(self, code: str) -> np.ndarray:
        return self.kw_per_kwp[:, self.home_trafo[code]] * self.home_kwp[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.home_kwp)

    def __len__(self) -> int:
        return len(self.home_kwp)

    def head(self, n_step: int) -> PvPerKwp:
        """The first `n_step` steps."""
        return PvPerKwp(self.kw_per_kwp[:n_step], self.home_trafo, self.home_kwp)

    def homes_sum_kw(self, code: str, columns) -> np.ndarray:
        """PV of some homes of wijk `code` (`columns`: a slice or indices), summed [kW] ``[n_step]``, without
        the wijk's per-home array (what a battery behind those homes measures)."""
        return self.kw_per_kwp[:, self.home_trafo[code][columns]] @ self.home_kwp[code][columns]


@dataclass(frozen=True)
class MvTopology:
    """A switching state of the 10 kV network (hashable: the cache key of its solver).

    Attributes
    ----------
    lines_out : frozenset of int
        ``net.line`` indices of the MV cables out of service.
    restored : frozenset of int
        The subset of `lines_out` for which the operator has restored supply:
        the normally-open switch of the cable's ring is closed, so the ring
        is fed from both station ends around the missing cable.
    """

    lines_out: frozenset[int] = frozenset()
    restored: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not self.restored <= self.lines_out:
            raise ValueError(f"restored cables {sorted(self.restored - self.lines_out)} are not out of service")


#: The network as built: every cable in service, every normally-open switch open.
NORMAL_TOPOLOGY = MvTopology()


def apply_mv_topology(mv: MvGrid, topology: MvTopology):
    """A copy of the MV net in `topology`: cables out of service, restored rings' open points closed."""
    net = copy.deepcopy(mv.net)
    if topology.lines_out:
        net.line.loc[sorted(topology.lines_out), "in_service"] = False
    if topology.restored:
        rings = set(mv.net.line.loc[sorted(topology.restored), "ring"].tolist())
        switch_ring = mv.net.line.loc[mv.net.switch.loc[mv.open_switches, "element"], "ring"].to_numpy()
        net.switch.loc[mv.open_switches[np.isin(switch_ring, list(rings))], "closed"] = True
    return net


def station_busbars(stations: pd.DataFrame) -> list[set[int]]:
    """The buses of each station's MV busbar: the ``busbar`` column (all sections, given nets) or ``mv_bus``."""
    if "busbar" in stations.columns:
        return [{int(b) for b in busbar} for busbar in stations.busbar]
    return [{int(b)} for b in stations.mv_bus]


def mv_feeding_lines(mv: MvGrid) -> pd.Series:
    """The ring cable that feeds each MV/LV substation in normal operation.

    With the normally-open switches open every ring is two radial halves; the
    cable a substation is reached through from its station is the one whose
    loss cuts it off (and that an N-1 study takes out). Found on the
    network graph, not from the order cables were built in.

    Returns
    -------
    pandas.Series
        ``net.line`` index per substation id (none for a substation on a
        station busbar itself).
    """
    net = mv.net
    graph = pp_topology.create_nxgraph(net, respect_switches=True, include_out_of_service=False)
    feeding = {}
    for sub in mv.substations.itertuples():
        best = None
        for busbar in station_busbars(mv.stations):
            sources = [b for b in busbar if b in graph]
            if not sources or sub.bus not in graph:
                continue
            try:  # hops, as cables (and switches) are counted, from the nearest busbar section
                _hops, path = nx.multi_source_dijkstra(graph, sources, sub.bus, weight=lambda u, v, d: 1)
            except nx.NetworkXNoPath:
                continue
            if best is None or len(path) < len(best):
                best = path
        if best is None:
            raise ValueError(f"substation {sub.substation_id} is not supplied in the MV network as built")
        # the last cable on the way: a substation may hang on the ring over bus-bus switches (its own
        # ring main unit bus); one right on a station busbar has no feeding cable
        for a, b in zip(best[-2::-1], best[:0:-1]):
            lines = sorted(key[1] for key in graph.get_edge_data(a, b) if key[0] == "line")
            if lines:
                feeding[sub.substation_id] = int(lines[0])
                break
    return pd.Series(feeding, name="line", dtype=np.int64)


@dataclass(frozen=True)
class BlockGridResult:
    """What a block's load flow leaves for the results (see module docstring)."""

    trafo_loading_pct: np.ndarray  # [n_step, n_lv_trafo]
    feeder_loading_pct: np.ndarray  # [n_step, n_feeder]
    mv_line_loading_pct: np.ndarray  # [n_step, n_mv_line]
    station_trafo_loading_pct: np.ndarray  # [n_step, n_station_trafo]
    wijk_vm_min_pu: np.ndarray  # [n_step, n_wijk]
    wijk_vm_max_pu: np.ndarray  # [n_step, n_wijk]
    bus_vm_min_pu: np.ndarray  # [n_lv_bus]
    bus_vm_max_pu: np.ndarray  # [n_lv_bus]
    bus_violation_steps: np.ndarray  # [n_lv_bus]
    not_converged: list[str] = field(default_factory=list)
    #: consumption of LV grids without supply [MW], [n_step, n_lv_trafo]; None when every grid was supplied
    lv_unserved_p_mw: np.ndarray | None = None


class CitySolver:
    """Batched load flow of a whole generated city, one block at a time.

    Parameters
    ----------
    city : CityGrid
        The generated nets.
    wijk_codes : list of str
        Wijken in result order.
    home_ids : dict of str to list of str
        Per wijk, the household connection ids in the column order of the
        per-home arrays the engine passes to `solve_block`.
    extra_ids : dict of str to list of str
        Per wijk, the extra LV connection ids (chargers ...) in column order.
    mv_sgen_ids : list of str
        MV connection ids with a generator, in the column order of `mv_sgen_p_mw`.
    mv_load_ids : list of str, optional
        MV connection ids with a load (charging hubs, heat plants, large
        batteries ...), in the column order of `mv_load_p_mw`.
    voltage_band_pu : (float, float)
        Band for the violation count.
    lv_solver : LvSolver or str
        ``"merged"`` (default): all LV grids in one batched solve per block
        (`MultiNetLoadFlow`); ``"per_grid"``: one `BatchedLoadFlow` per grid.
        Both give the same results to rounding (tests/grid/test_simulate.py).
        ``"pandapower"``: ``pandapower.runpp`` per step for every LV grid and
        the MV network (`PandapowerLoadFlow`), the reference; slow.
    """

    def __init__(self, city: CityGrid, wijk_codes: list[str], home_ids: dict[str, list[str]],
                 extra_ids: dict[str, list[str]], mv_sgen_ids: list[str], voltage_band_pu: tuple[float, float],
                 *, mv_load_ids: list[str] = (), lv_solver: LvSolver | str = LvSolver.merged):
        self.city = city
        self.wijk_codes = list(wijk_codes)
        self.voltage_band_pu = voltage_band_pu
        self.lv_solver = LvSolver(lv_solver)
        # the solver of one net (an LV grid per_grid, the MV network, each outage topology)
        self._flow = PandapowerLoadFlow if self.lv_solver is LvSolver.pandapower else BatchedLoadFlow
        self.plans: list[LvPlan] = []
        n_home = {code: len(home_ids[code]) for code in self.wijk_codes}
        n_extra = {code: len(extra_ids.get(code, [])) for code in self.wijk_codes}
        for code in self.wijk_codes:
            home_column = {cid: i for i, cid in enumerate(home_ids[code])}
            extra_column = {cid: i for i, cid in enumerate(extra_ids.get(code, []))}
            for grid in city.lv_grids[code]:
                self.plans.append(self._plan(grid, code, home_column, extra_column,
                                             self._flow if self.lv_solver is not LvSolver.merged else None))
        self._n_home, self._n_extra = n_home, n_extra
        if self.lv_solver is LvSolver.merged:
            self._setup_merged()
        self.mv = city.mv
        self.mv_solver = self._flow(self.mv.net)
        subs = self.mv.substations.set_index("substation_id")
        self._mv_load_pos_of_plan = _positions(self.mv.net.load.index, subs.loc[[p.grid.name for p in self.plans], "load"])
        mv_conn = self.mv.connections.set_index("connection_id")
        sgen_idx = mv_conn.loc[mv_sgen_ids, "element_index"] if mv_sgen_ids else []
        self._mv_sgen_pos = _positions(self.mv.net.sgen.index, sgen_idx) if mv_sgen_ids else np.zeros(0, int)
        load_conn = mv_conn.loc[list(mv_load_ids)] if len(mv_load_ids) else mv_conn.iloc[:0]
        if (load_conn.element != "load").any():
            raise ValueError(f"MV connections without a load element: {list(load_conn.index[load_conn.element != 'load'])}")
        self._mv_conn_load_pos = _positions(self.mv.net.load.index, load_conn.element_index)
        self._mv_bus_pos_of_plan = _positions(self.mv.net.bus.index, subs.loc[[p.grid.name for p in self.plans], "bus"])
        self._plan_wijk = np.array([self.wijk_codes.index(p.wijk_code) for p in self.plans])
        self.lv_bus_count = np.array([len(p.lv_bus_positions) for p in self.plans])
        # MV solvers per topology (outages); the normal one supplies every substation
        self._mv_variants: dict[MvTopology, tuple[BatchedLoadFlow, np.ndarray]] = {
            NORMAL_TOPOLOGY: (self.mv_solver, np.zeros(len(self.plans), dtype=bool))}
        self._lv_bus_ptr = np.concatenate(([0], np.cumsum(self.lv_bus_count))).astype(np.int64)

    @staticmethod
    def _plan(grid: LvGrid, wijk_code: str, home_column: dict[str, int], extra_column: dict[str, int],
              flow=BatchedLoadFlow) -> LvPlan:
        net, conns = grid.net, grid.connections
        homes = conns[conns.kind == "household"]
        pv = conns[conns.kind == "rooftop_pv"]
        extras = conns[(conns.element == "load") & ~conns.kind.isin(["household"])]
        load_home = np.full(len(net.load), -1)
        load_home[_positions(net.load.index, homes.element_index)] = [home_column[c] for c in homes.connection_id]
        load_extra = np.full(len(net.load), -1)
        if len(extras):
            load_extra[_positions(net.load.index, extras.element_index)] = [extra_column[c] for c in extras.connection_id]
        # rooftop PV "<home id>/pv" takes its household's column (several homes may share a bus)
        sgen_home = np.full(len(net.sgen), -1)
        if len(pv):
            owners = [c.removesuffix("/pv") for c in pv.connection_id]
            unpaired = [c for c, o in zip(pv.connection_id, owners) if o not in home_column or c == o]
            if unpaired:
                raise ValueError(f"rooftop PV {unpaired[:3]} in {grid.name} has no household '<home id>/pv'")
            sgen_home[_positions(net.sgen.index, pv.element_index)] = [home_column[o] for o in owners]
        solver = flow(net) if flow is not None else None
        # BatchedLoadFlow's result columns follow net.line.index / net.bus.index
        if grid.feeder_lines is not None:
            feeder_heads = _positions(net.line.index, list(grid.feeder_lines))
        else:
            from_busbar = np.asarray(net.line.from_bus == grid.lv_bus) | np.asarray(net.line.to_bus == grid.lv_bus)
            feeder_heads = _positions(net.line.index, net.line.index[from_busbar])
        lv_buses = net.bus.index[net.bus.vn_kv < 1.0]
        return LvPlan(grid, wijk_code, solver, load_home, sgen_home, load_extra,
                      feeder_heads, _positions(net.bus.index, lv_buses))

    def _setup_merged(self) -> None:
        """One `MultiNetLoadFlow` for all LV grids and the sparse maps home -> bus.

        The maps fold "which element takes which home's column" into the
        load/sgen incidence, so a block's injections are three sparse
        products of the wijken's stacked arrays, with no per-grid Python.
        """
        nets = [p.grid.net for p in self.plans]
        self._lv = MultiNetLoadFlow(
            nets,
            bus_select=[p.grid.net.bus.index[p.lv_bus_positions] for p in self.plans],
            line_select=[p.grid.net.line.index[p.feeder_head_positions] for p in self.plans],
        )
        home_off = dict(zip(self.wijk_codes, np.cumsum([0] + [self._n_home[c] for c in self.wijk_codes])))
        extra_off = dict(zip(self.wijk_codes, np.cumsum([0] + [self._n_extra[c] for c in self.wijk_codes])))
        n_home = sum(self._n_home.values())
        n_extra = sum(self._n_extra.values())
        off = self._lv.offsets

        def selection(element, column_of, col_off, n_col):
            rows, cols = [], []
            for k, plan in enumerate(self.plans):
                column = getattr(plan, column_of)
                pos = np.flatnonzero(column >= 0)
                rows.append(off[element][k] + pos)
                cols.append(col_off[plan.wijk_code] + column[pos])
            rows, cols = np.concatenate(rows), np.concatenate(cols)
            return sps.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(off[element][-1], n_col))

        c_home = self._lv.c_load @ selection("load", "load_home_column", home_off, n_home)
        c_extra = self._lv.c_load @ selection("load", "load_extra_column", extra_off, n_extra)
        c_pv = self._lv.c_sgen @ selection("sgen", "sgen_home_column", home_off, n_home)
        self._c_home, self._c_extra, self._c_pv = c_home, c_extra, c_pv
        self._source_maps: dict[tuple, SourceMap] = {}  # per kind of sources (_merged_source_map)
        self._digests: dict[tuple[int, ...], tuple[tuple[dict, ...], str]] = {}  # _layout_digest
        self._vm_buffer: np.ndarray | None = None

    def _merged_source_map(self, q_per_p: float | None, pv: PvPerKwp | None,
                           home_p: HomePower | None = None) -> SourceMap:
        """How a block's sources add up to the LV injections, built on first use of each kind of sources.

        Sources, in this order, all in kW / kvar: home P, per wijk
        ``[n_step, n_home]`` (``home_p`` None) or the city's household load
        ``[n_step, n_home of all wijken]`` and then per wijk the additions of
        ``home_p`` ``[n_step, n_added]`` (`HomePower`); home Q, per wijk (``q_per_p`` None) or the
        city's household load ``[n_step, n_home of all wijken]`` times
        ``q_per_p`` (`HouseholdReactive`); rooftop PV, per wijk (``pv`` None)
        or per kWp per transformer ``[n_step, n_lv_trafo]`` with the homes'
        kWp of ``pv`` as weights (`PvPerKwp`); extra P per wijk ``[n_step, n_extra]``.
        """
        pv_key = None if pv is None else self._layout_digest(pv.home_trafo, pv.home_kwp)
        added_key = None if home_p is None else self._layout_digest(home_p.added_columns)
        key = (q_per_p, pv_key, added_key)
        if key not in self._source_maps:
            per_kw = 1.0 / (1000.0 * self._lv.base_mva)
            home_widths = [self._n_home[c] for c in self.wijk_codes]
            n_home = sum(home_widths)
            if home_p is None:
                parts, widths = [-per_kw * self._c_home], list(home_widths)
            else:
                home_off = np.cumsum([0] + home_widths)
                added = [home_off[k] + np.asarray(home_p.added_columns[c], np.int64)
                         for k, c in enumerate(self.wijk_codes)]
                parts = [-per_kw * self._c_home, -per_kw * self._c_home[:, np.concatenate(added)]]
                widths = [n_home] + [a.size for a in added]
            if q_per_p is None:
                parts.append(-1j * per_kw * self._c_home)
                widths += home_widths
            else:
                parts.append(-1j * q_per_p * per_kw * self._c_home)
                widths.append(n_home)
            if pv is None:
                parts.append(per_kw * self._c_pv)
                widths += home_widths
            else:
                trafo = np.concatenate([pv.home_trafo[c] for c in self.wijk_codes]).astype(np.int64)
                kwp = np.concatenate([pv.home_kwp[c] for c in self.wijk_codes]).astype(float)
                home_to_trafo = sps.csr_matrix((kwp, (np.arange(n_home), trafo)), shape=(n_home, len(self.plans)))
                parts.append(per_kw * (self._c_pv @ home_to_trafo))
                widths.append(len(self.plans))
            parts.append(-per_kw * self._c_extra)
            widths += [self._n_extra[c] for c in self.wijk_codes]
            self._source_maps[key] = self._lv.source_map(sps.hstack(parts).tocsr(), widths)
        return self._source_maps[key]

    def _layout_digest(self, *per_wijk: dict[str, np.ndarray]) -> str:
        """A digest of per-wijk arrays (a home layout: transformers and kWp of the homes, the homes that take
        additions), remembered for the same dict objects: the engine passes the same layout every block, and
        hashing the PV layout of the city's 37,000 homes cost ~1.5 ms a solve. A layout's arrays are not
        changed in place once given to the solver."""
        ids = tuple(map(id, per_wijk))
        known = self._digests.get(ids)
        if known is not None and all(a is b for a, b in zip(known[0], per_wijk)):
            return known[1]
        digest = hashlib.sha1(b"".join(np.ascontiguousarray(d[c]).tobytes() + b"|"
                                       for d in per_wijk for c in self.wijk_codes)).hexdigest()
        if len(self._digests) >= 16:  # layouts seen once (tests, a new run on this solver)
            self._digests.clear()
        self._digests[ids] = (per_wijk, digest)
        return digest

    # ------------------------------------------------------------------
    @property
    def lv_trafo_ids(self) -> list[str]:
        return [p.grid.name for p in self.plans]

    @property
    def lv_trafo_wijk(self) -> list[str]:
        return [p.wijk_code for p in self.plans]

    @property
    def lv_trafo_sn_mva(self) -> np.ndarray:
        return np.array([p.grid.sn_mva for p in self.plans])

    def feeder_table(self) -> pd.DataFrame:
        """id, wijk, substation, rating [MVA] of every feeder-head cable."""
        rows = []
        for plan in self.plans:
            net = plan.grid.net
            for pos in plan.feeder_head_positions:
                index = net.line.index[pos]
                line = net.line.loc[index]
                vn_kv = net.bus.vn_kv.at[line.from_bus]
                rows.append({
                    "feeder": f"{plan.grid.name}/{line['name'] or index}",
                    "wijk": plan.wijk_code,
                    "substation": plan.grid.name,
                    "s_rated_mva": float(np.sqrt(3) * vn_kv * line.max_i_ka * line.df * line.parallel),
                })
        return pd.DataFrame(rows)

    def mv_line_table(self) -> pd.DataFrame:
        net = self.mv.net
        index = self.mv_solver.line_index
        lines = net.line.loc[index]
        vn = net.bus.vn_kv.loc[lines.from_bus].to_numpy()
        return pd.DataFrame({
            "line": [str(n) if n else str(i) for i, n in zip(index, lines["name"])],
            "s_rated_mva": np.sqrt(3) * vn * lines.max_i_ka.to_numpy() * lines.df.to_numpy() * lines.parallel.to_numpy(),
        })

    def station_trafo_table(self) -> pd.DataFrame:
        net = self.mv.net
        trafos = net.trafo.loc[self.mv_solver.trafo_index]
        return pd.DataFrame({"trafo": [str(n) for n in trafos["name"]], "s_rated_mva": trafos.sn_mva.to_numpy()})

    @property
    def lv_bus_ids(self) -> list[str]:
        ids = []
        for plan in self.plans:
            buses = plan.grid.net.bus.index[plan.lv_bus_positions]
            names = plan.grid.net.bus.name.loc[buses]
            ids += [str(n) if n else f"{plan.grid.name}/{b}" for b, n in zip(buses, names)]
        return ids

    @property
    def lv_bus_wijk(self) -> list[str]:
        return [p.wijk_code for p, n in zip(self.plans, self.lv_bus_count) for _ in range(n)]

    @property
    def lv_trafo_ring(self) -> np.ndarray:
        """The MV ring each MV/LV substation is on, in `lv_trafo_ids` order."""
        subs = self.mv.substations.set_index("substation_id")
        return subs.loc[self.lv_trafo_ids, "ring"].to_numpy(np.int64)

    def mv_ring_cable_table(self) -> pd.DataFrame:
        """Every 10 kV ring cable: ``line`` (net index), ``name``, ``ring``, ``length_km``, ``feeds``
        (the substation it feeds in normal operation, "" for the cable at the open point), ``wijk``
        (the wijk of that substation, or of the substation at the open point)."""
        net = self.mv.net
        rings = net.line[net.line.ring >= 0]
        feeding = mv_feeding_lines(self.mv)
        feeds = pd.Series(feeding.index, index=feeding.to_numpy())
        subs = self.mv.substations.set_index("substation_id")
        sub_of_bus = self.mv.substations.set_index("bus").substation_id
        switch_bus = net.switch.loc[self.mv.open_switches].set_index("element").bus
        feeds_of = [str(feeds.get(i, "")) for i in rings.index]
        wijk = [subs.wijk_code.get(f) if f else subs.wijk_code.get(sub_of_bus.get(switch_bus.get(i)), "")
                for f, i in zip(feeds_of, rings.index)]
        return pd.DataFrame({"line": rings.index.to_numpy(np.int64), "name": rings["name"].astype(str).to_numpy(),
                             "ring": rings.ring.to_numpy(np.int64), "length_km": rings.length_km.to_numpy(float),
                             "feeds": feeds_of, "wijk": [str(w or "") for w in wijk]})

    def mv_variant(self, topology: MvTopology) -> tuple[BatchedLoadFlow, np.ndarray]:
        """The MV solver of `topology` and which substations (in `lv_trafo_ids` order) it leaves unsupplied.

        Built on first use (one ``runpp`` and one factorisation of the MV
        net) and cached for the life of the solver.
        """
        if topology not in self._mv_variants:
            net = apply_mv_topology(self.mv, topology)
            dead_buses = pp_topology.unsupplied_buses(net)
            subs = self.mv.substations.set_index("substation_id")
            dead = np.isin(subs.loc[self.lv_trafo_ids, "bus"].to_numpy(), list(dead_buses))
            self._mv_variants[topology] = (self._flow(net), dead)
        return self._mv_variants[topology]

    # ------------------------------------------------------------------
    def solve_block(self, home_p_kw: Mapping[str, np.ndarray], home_q_kvar: Mapping[str, np.ndarray],
                    rooftop_pv_kw: Mapping[str, np.ndarray], extra_p_kw: dict[str, np.ndarray],
                    mv_sgen_p_mw: np.ndarray, time_utc: pd.DatetimeIndex,
                    mv_load_p_mw: np.ndarray | None = None, *,
                    mv_topology: Sequence[MvTopology] | None = None,
                    lv_out: np.ndarray | None = None) -> BlockGridResult:
        """Solve one block for the whole city.

        Parameters
        ----------
        home_p_kw, home_q_kvar : dict wijk -> ndarray [n_step, n_home]
            Household consumption (everything behind the home's meter except
            rooftop PV) [kW], [kvar]. ``home_p_kw`` may be a `HomePower`
            (household load plus additions; read without a per-home array by
            the merged LV solve), ``home_q_kvar`` a
            `HouseholdReactive` instead (reactive power as a ratio of the
            household load; read without a per-home q array by the merged LV solve).
        rooftop_pv_kw : dict wijk -> ndarray [n_step, n_home]
            Rooftop PV production per home [kW] (0 for homes without PV); or a
            `PvPerKwp` (per kWp per transformer times each home's kWp).
        extra_p_kw : dict wijk -> ndarray [n_step, n_extra]
            Other LV connections' consumption [kW].
        mv_sgen_p_mw : ndarray [n_step, n_mv_sgen]
            MV generators' production [MW].
        time_utc : DatetimeIndex
            The block's steps (for messages).
        mv_load_p_mw : ndarray [n_step, n_mv_load], optional
            Consumption of the MV connections named in ``mv_load_ids`` [MW]
            (negative: feeding in); zero when omitted. Power factor 1.
        mv_topology : sequence of MvTopology, optional
            The MV switching state of every step (outages); default: the
            network as built for all steps.
        lv_out : ndarray [n_step, n_lv_trafo] of bool, optional
            MV/LV transformers out of service (``lv_trafo_ids`` order).
        """
        n_step = len(time_utc)
        if self.lv_solver is LvSolver.merged:
            lv = self._solve_lv_merged(home_p_kw, home_q_kvar, rooftop_pv_kw, extra_p_kw, time_utc)
        else:
            lv = self._solve_lv_per_grid(home_p_kw, home_q_kvar, rooftop_pv_kw, extra_p_kw, time_utc)
        trafo_loading, feeder_loading, p_sub, q_sub, vm_lv, messages = lv

        unserved = None
        if mv_topology is not None or lv_out is not None:
            dead = np.zeros((n_step, len(self.plans)), dtype=bool) if lv_out is None else np.asarray(lv_out, bool).copy()
            for topology in set(mv_topology or ()):
                steps = np.fromiter((t == topology for t in mv_topology), bool, n_step)
                dead[steps] |= self.mv_variant(topology)[1]
            if dead.any():
                unserved = self._without_supply(dead, home_p_kw, extra_p_kw, trafo_loading, feeder_loading,
                                                p_sub, q_sub, vm_lv)
                messages = [m for m in messages if not self._is_dead_message(m, dead, time_utc)]

        mv_net = self.mv.net
        mv_load_p = np.zeros((n_step, len(mv_net.load)))
        mv_load_q = np.zeros((n_step, len(mv_net.load)))
        mv_load_p[:, self._mv_load_pos_of_plan] = np.nan_to_num(p_sub)
        mv_load_q[:, self._mv_load_pos_of_plan] = np.nan_to_num(q_sub)
        if mv_load_p_mw is not None and len(self._mv_conn_load_pos):
            mv_load_p[:, self._mv_conn_load_pos] = mv_load_p_mw
        mv_sgen_p = np.zeros((n_step, len(mv_net.sgen)))
        if len(self._mv_sgen_pos):
            mv_sgen_p[:, self._mv_sgen_pos] = mv_sgen_p_mw
        if mv_topology is None:
            mv = self.mv_solver.solve(mv_load_p, mv_load_q, mv_sgen_p)
        else:
            mv = self._solve_mv_topologies(mv_topology, mv_load_p, mv_load_q, mv_sgen_p)
        if not mv.converged.all():
            messages += [f"MV network: {m}" for m in describe_non_converged(mv, time_utc)]
        v_sub = mv.vm_pu[:, self._mv_bus_pos_of_plan]  # [n_step, n_plan]

        # LV voltages [n_lv_bus, n_step], grid after grid, scaled by their substation's MV voltage
        # and reduced in one compiled pass.
        low, high = self.voltage_band_pu
        bus_min, bus_max, bus_violations, plan_min, plan_max = _voltage_extremes(
            vm_lv, self._lv_bus_ptr, np.ascontiguousarray(v_sub.T), low, high)
        n_wijk = len(self.wijk_codes)
        wijk_min = np.full((n_step, n_wijk), np.inf)
        wijk_max = np.full((n_step, n_wijk), -np.inf)
        for w in range(n_wijk):
            mine = self._plan_wijk == w
            if mine.any():
                np.fmin(wijk_min[:, w], np.fmin.reduce(plan_min[mine], axis=0), out=wijk_min[:, w])
                np.fmax(wijk_max[:, w], np.fmax.reduce(plan_max[mine], axis=0), out=wijk_max[:, w])
        return BlockGridResult(
            trafo_loading_pct=trafo_loading,
            feeder_loading_pct=feeder_loading,
            mv_line_loading_pct=mv.line_loading_pct,
            station_trafo_loading_pct=mv.trafo_loading_pct,
            wijk_vm_min_pu=wijk_min,
            wijk_vm_max_pu=wijk_max,
            bus_vm_min_pu=bus_min,
            bus_vm_max_pu=bus_max,
            bus_violation_steps=bus_violations,
            not_converged=messages,
            lv_unserved_p_mw=unserved,
        )

    def _solve_mv_topologies(self, mv_topology: Sequence[MvTopology], load_p, load_q, sgen_p) -> LoadFlowResult:
        """The MV load flow of a block whose steps have different topologies: each topology's steps
        with that topology's solver; results put back in step order (same columns in every variant)."""
        if len(mv_topology) != load_p.shape[0]:
            raise ValueError(f"mv_topology has {len(mv_topology)} entries for {load_p.shape[0]} steps")
        keys = list(dict.fromkeys(mv_topology))
        if keys == [NORMAL_TOPOLOGY]:
            return self.mv_solver.solve(load_p, load_q, sgen_p)
        parts = {}
        for topology in keys:
            steps = np.flatnonzero(np.fromiter((t == topology for t in mv_topology), bool, len(mv_topology)))
            parts[topology] = (steps, self.mv_variant(topology)[0].solve(load_p[steps], load_q[steps], sgen_p[steps]))
        first = next(iter(parts.values()))[1]
        merged = {}
        for name in ("vm_pu", "va_degree", "line_loading_pct", "line_i_ka", "trafo_loading_pct", "ext_grid_p_mw",
                     "ext_grid_q_mvar", "converged", "max_mismatch_mva", "max_mismatch_bus", "iterations"):
            template = getattr(first, name)
            out = np.empty((load_p.shape[0], *template.shape[1:]), dtype=template.dtype)
            for steps, result in parts.values():
                out[steps] = getattr(result, name)
            merged[name] = out
        # a cable or transformer cut off from every station carries no current (pandapower: NaN); NaN stays
        # only where the load flow did not converge
        for name in ("line_loading_pct", "line_i_ka", "trafo_loading_pct"):
            values = merged[name]
            values[merged["converged"][:, None] & np.isnan(values)] = 0.0
        return LoadFlowResult(**merged, bus_index=first.bus_index, line_index=first.line_index,
                              trafo_index=first.trafo_index, ext_grid_index=first.ext_grid_index)

    def _without_supply(self, dead, home_p_kw, extra_p_kw, trafo_loading, feeder_loading, p_sub, q_sub, vm_lv):
        """Blank the LV results of grids without supply (in place); their connections' consumption [MW].

        ``dead`` [n_step, n_plan]. The consumption asked for is the households'
        and the other LV connections' (chargers ...) load; rooftop PV is
        not netted off (inverters disconnect when the grid is down, EN 50549-1).
        """
        n_step, n_plan = dead.shape
        unserved = np.zeros((n_step, n_plan))
        feeder_starts = np.concatenate(([0], np.cumsum([len(p.feeder_head_positions) for p in self.plans])))
        bus_starts = np.concatenate(([0], np.cumsum(self.lv_bus_count)))
        for k in np.flatnonzero(dead.any(axis=0)):
            plan, steps = self.plans[k], dead[:, k]
            home = plan.load_home_column[plan.load_home_column >= 0]
            extra = plan.load_extra_column[plan.load_extra_column >= 0]
            p_kw = np.asarray(home_p_kw[plan.wijk_code], dtype=np.float64)[steps][:, home].sum(axis=1)
            if len(extra):
                p_kw += np.asarray(extra_p_kw[plan.wijk_code], dtype=np.float64)[steps][:, extra].sum(axis=1)
            unserved[steps, k] = p_kw / 1000.0
            trafo_loading[steps, k] = 0.0
            feeder_loading[np.ix_(steps, np.arange(feeder_starts[k], feeder_starts[k + 1]))] = 0.0
            p_sub[steps, k] = 0.0
            q_sub[steps, k] = 0.0
            vm_lv[bus_starts[k]:bus_starts[k + 1], steps] = np.nan
        return unserved

    def _is_dead_message(self, message: str, dead: np.ndarray, time_utc: pd.DatetimeIndex) -> bool:
        """Whether a non-convergence message is about a grid that had no supply at that step anyway."""
        for k in np.flatnonzero(dead.any(axis=0)):
            prefix = f"{self.plans[k].grid.name}:"
            if message.startswith(prefix) and any(f"({time_utc[s]})" in message for s in np.flatnonzero(dead[:, k])):
                return True
        return False

    def _solve_lv_merged(self, home_p_kw, home_q_kvar, rooftop_pv_kw, extra_p_kw, time_utc):
        """All LV grids in one `MultiNetLoadFlow` solve (see `solve_block`)."""
        n_step = len(time_utc)
        codes = self.wijk_codes

        def columns(arrays, n_col):
            return [np.asarray(arrays[c]).reshape(n_step, n_col[c]) if n_col[c] else np.zeros((n_step, 0))
                    for c in codes]

        n_home = sum(self._n_home.values())

        def city_wide(name, array, n_col, layout):
            if array.shape != (n_step, n_col):
                raise ValueError(f"{name} has shape {array.shape}, the block {(n_step, n_col)} ({layout})")
            return array

        homes_side_by_side = "every wijk's homes side by side"
        if isinstance(home_q_kvar, HouseholdReactive):
            q_sources = [city_wide("household_kw", home_q_kvar.household_kw, n_home, homes_side_by_side)]
            q_per_p = float(home_q_kvar.q_per_p)
        else:
            q_sources, q_per_p = columns(home_q_kvar, self._n_home), None
        if isinstance(rooftop_pv_kw, PvPerKwp):
            pv_sources = [city_wide("kw_per_kwp", rooftop_pv_kw.kw_per_kwp, len(self.plans),
                                    "one column per MV/LV transformer")]
            pv = rooftop_pv_kw
        else:
            pv_sources, pv = columns(rooftop_pv_kw, self._n_home), None
        if isinstance(home_p_kw, HomePower):
            p_sources = ([city_wide("household_kw", home_p_kw.household_kw, n_home, homes_side_by_side)]
                         + [home_p_kw.added_kw[c] for c in codes])
            home_p = home_p_kw
        else:
            p_sources, home_p = columns(home_p_kw, self._n_home), None
        sources = p_sources + q_sources + pv_sources + columns(extra_p_kw, self._n_extra)
        # the voltages are only reduced (solve_block), never returned: one buffer serves every block
        r = self._lv.solve(sources=sources, source_map=self._merged_source_map(q_per_p, pv, home_p),
                           vm_out=self._vm_buffer)
        self._vm_buffer = r.vm_pu
        messages = []
        if not r.converged.all():
            for k, step in np.argwhere(~r.converged):
                messages.append(
                    f"{self.plans[k].grid.name}: load flow did not converge at step {step} ({time_utc[step]}) "
                    f"after {r.iterations[k, step]} iterations: largest power mismatch "
                    f"{r.max_mismatch_mva[k, step]:.3g} MVA at bus {r.max_mismatch_bus[k, step]}; the grid is "
                    f"likely loaded beyond voltage collapse there — reduce the load or reinforce the feeder")
        return (r.trafo_loading_pct, r.line_loading_pct, r.ext_grid_p_mw, r.ext_grid_q_mvar, r.vm_pu,
                messages)

    def _solve_lv_per_grid(self, home_p_kw, home_q_kvar, rooftop_pv_kw, extra_p_kw, time_utc):
        """One solver per LV grid: `BatchedLoadFlow` (the original path) or `PandapowerLoadFlow` (the reference)."""
        n_step = len(time_utc)
        n_plan = len(self.plans)
        # per-home arrays once per wijk (the factored inputs compute theirs on access)
        home_p_kw, home_q_kvar, rooftop_pv_kw = ({c: a[c] for c in self.wijk_codes}
                                                 for a in (home_p_kw, home_q_kvar, rooftop_pv_kw))
        lv_results: list[LoadFlowResult] = []
        p_sub = np.empty((n_step, n_plan))
        q_sub = np.empty((n_step, n_plan))
        messages: list[str] = []
        for k, plan in enumerate(self.plans):
            code = plan.wijk_code
            load_p = _take(home_p_kw[code], plan.load_home_column) + _take(extra_p_kw[code], plan.load_extra_column)
            load_q = _take(home_q_kvar[code], plan.load_home_column)
            sgen_p = _take(rooftop_pv_kw[code], plan.sgen_home_column)
            result = plan.solver.solve(load_p / 1000.0, load_q / 1000.0, sgen_p / 1000.0)
            lv_results.append(result)
            p_sub[:, k] = result.ext_grid_p_mw.sum(axis=1)
            q_sub[:, k] = result.ext_grid_q_mvar.sum(axis=1)
            if not result.converged.all():
                messages += [f"{plan.grid.name}: {m}" for m in describe_non_converged(result, time_utc)]
        trafo = np.column_stack([r.trafo_loading_pct[:, 0] for r in lv_results])
        feeder = np.hstack([r.line_loading_pct[:, p.feeder_head_positions] for p, r in zip(self.plans, lv_results)])
        vm_lv = np.vstack([r.vm_pu[:, p.lv_bus_positions].T for p, r in zip(self.plans, lv_results)])
        return trafo, feeder, p_sub, q_sub, vm_lv, messages


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _voltage_extremes(vm_pu, bus_ptr, scale, low_pu, high_pu):  # pragma: no cover - compiled
    """Extremes of the scaled LV voltages, one pass over ``vm_pu`` [n_bus, n_step].

    Bus ``i`` of grid ``g`` (``bus_ptr[g] <= i < bus_ptr[g + 1]``) at step
    ``t`` has ``u = vm_pu[i, t] * scale[g, t]`` [p.u.]. NaN (a step that did
    not converge) is skipped as ``numpy.fmin``/``fmax`` skip it: an extreme is
    NaN only when every value is.

    Returns
    -------
    bus_min, bus_max : ndarray [n_bus]
        Over the steps [p.u.].
    violations : ndarray [n_bus] of int
        Steps with ``u < low_pu`` or ``u > high_pu``.
    grid_min, grid_max : ndarray [n_grid, n_step]
        Over each grid's buses [p.u.].
    """
    n_grid = bus_ptr.size - 1
    n_bus, n_step = vm_pu.shape
    bus_min = np.empty(n_bus)
    bus_max = np.empty(n_bus)
    violations = np.zeros(n_bus, np.int64)
    grid_min = np.empty((n_grid, n_step))
    grid_max = np.empty((n_grid, n_step))
    for g in numba.prange(n_grid):
        gmin = grid_min[g]
        gmax = grid_max[g]
        sc = scale[g]
        for t in range(n_step):
            gmin[t] = np.inf
            gmax[t] = -np.inf
        for i in range(bus_ptr[g], bus_ptr[g + 1]):
            row = vm_pu[i]
            lo = np.inf
            hi = -np.inf
            count = 0
            for t in range(n_step):
                u = row[t] * sc[t]
                lo = min(lo, u) if u == u else lo
                hi = max(hi, u) if u == u else hi
                gmin[t] = min(gmin[t], u) if u == u else gmin[t]
                gmax[t] = max(gmax[t], u) if u == u else gmax[t]
                count += (u < low_pu) | (u > high_pu)
            bus_min[i] = lo if lo <= hi else np.nan
            bus_max[i] = hi if lo <= hi else np.nan
            violations[i] = count
        for t in range(n_step):
            if gmin[t] > gmax[t]:
                gmin[t] = np.nan
                gmax[t] = np.nan
    return bus_min, bus_max, violations, grid_min, grid_max


def _take(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Columns of `values` as float64 ``[n_step, len(columns)]``; column ``-1`` reads zero."""
    padded = np.concatenate([values, np.zeros((values.shape[0], 1), dtype=values.dtype)], axis=1)
    return padded[:, columns].astype(np.float64, copy=False)

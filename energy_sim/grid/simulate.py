"""Solve a city's grids block by block: LV grids, then the MV network above them.

Hierarchy (DESIGN.md decision 4).  Every LV grid is solved on its own with its
MV/LV transformer's 10 kV side held at 1.0 p.u.; the power each draws there
(the slack infeed) becomes the load of its substation in the MV network,
which is solved next.  LV voltages are then scaled by the MV voltage found at
their substation.  That scaling is the coupling's only approximation: with
constant-power loads the LV currents rise slightly when the MV voltage is
below 1.0 p.u., which the scaling ignores — a second-order effect (the
relative error in an LV voltage drop equals the MV deviation, e.g. 2 % of a
5 % drop = 0.1 % of nominal for an MV voltage of 0.98 p.u.).

Only what users read is kept (DESIGN.md decision 5): transformer and
feeder-head loading series, per-wijk minimum/maximum voltage series, and
per-bus minimum/maximum voltage and hours outside the band, reduced per block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_sim.grid.build import CityGrid, LvGrid
from energy_sim.grid.loadflow import BatchedLoadFlow, LoadFlowResult, describe_non_converged


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
    solver: BatchedLoadFlow
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
    voltage_band_pu : (float, float)
        Band for the violation count.
    """

    def __init__(self, city: CityGrid, wijk_codes: list[str], home_ids: dict[str, list[str]],
                 extra_ids: dict[str, list[str]], mv_sgen_ids: list[str], voltage_band_pu: tuple[float, float]):
        self.city = city
        self.wijk_codes = list(wijk_codes)
        self.voltage_band_pu = voltage_band_pu
        self.plans: list[LvPlan] = []
        for code in self.wijk_codes:
            home_column = {cid: i for i, cid in enumerate(home_ids[code])}
            extra_column = {cid: i for i, cid in enumerate(extra_ids.get(code, []))}
            for grid in city.lv_grids[code]:
                self.plans.append(self._plan(grid, code, home_column, extra_column))
        self.mv = city.mv
        self.mv_solver = BatchedLoadFlow(self.mv.net)
        subs = self.mv.substations.set_index("substation_id")
        self._mv_load_pos_of_plan = _positions(self.mv.net.load.index, subs.loc[[p.grid.name for p in self.plans], "load"])
        mv_conn = self.mv.connections.set_index("connection_id")
        sgen_idx = mv_conn.loc[mv_sgen_ids, "element_index"] if mv_sgen_ids else []
        self._mv_sgen_pos = _positions(self.mv.net.sgen.index, sgen_idx) if mv_sgen_ids else np.zeros(0, int)
        self._mv_bus_pos_of_plan = _positions(self.mv.net.bus.index, subs.loc[[p.grid.name for p in self.plans], "bus"])
        self._plan_wijk = np.array([self.wijk_codes.index(p.wijk_code) for p in self.plans])
        self.lv_bus_count = np.array([len(p.lv_bus_positions) for p in self.plans])

    @staticmethod
    def _plan(grid: LvGrid, wijk_code: str, home_column: dict[str, int], extra_column: dict[str, int]) -> LvPlan:
        net, conns = grid.net, grid.connections
        homes = conns[conns.kind == "household"]
        pv = conns[conns.kind == "rooftop_pv"]
        extras = conns[(conns.element == "load") & ~conns.kind.isin(["household"])]
        load_home = np.full(len(net.load), -1)
        load_home[_positions(net.load.index, homes.element_index)] = [home_column[c] for c in homes.connection_id]
        load_extra = np.full(len(net.load), -1)
        if len(extras):
            load_extra[_positions(net.load.index, extras.element_index)] = [extra_column[c] for c in extras.connection_id]
        # rooftop PV sits on its home's bus: the home column follows the bus
        home_of_bus = dict(zip(homes.bus, (home_column[c] for c in homes.connection_id)))
        sgen_home = np.full(len(net.sgen), -1)
        if len(pv):
            sgen_home[_positions(net.sgen.index, pv.element_index)] = [home_of_bus[b] for b in pv.bus]
        solver = BatchedLoadFlow(net)
        from_busbar = np.asarray(net.line.from_bus == grid.lv_bus) | np.asarray(net.line.to_bus == grid.lv_bus)
        feeder_heads = _positions(pd.Index(solver.line_index), net.line.index[from_busbar])
        lv_buses = net.bus.index[net.bus.vn_kv < 1.0]
        return LvPlan(grid, wijk_code, solver, load_home, sgen_home, load_extra,
                      feeder_heads, _positions(pd.Index(solver.bus_index), lv_buses))

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
                index = plan.solver.line_index[pos]
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
            buses = plan.solver.bus_index[plan.lv_bus_positions]
            names = plan.grid.net.bus.name.loc[buses]
            ids += [str(n) if n else f"{plan.grid.name}/{b}" for b, n in zip(buses, names)]
        return ids

    @property
    def lv_bus_wijk(self) -> list[str]:
        return [p.wijk_code for p, n in zip(self.plans, self.lv_bus_count) for _ in range(n)]

    # ------------------------------------------------------------------
    def solve_block(self, home_p_kw: dict[str, np.ndarray], home_q_kvar: dict[str, np.ndarray],
                    rooftop_pv_kw: dict[str, np.ndarray], extra_p_kw: dict[str, np.ndarray],
                    mv_sgen_p_mw: np.ndarray, time_utc: pd.DatetimeIndex) -> BlockGridResult:
        """Solve one block for the whole city.

        Parameters
        ----------
        home_p_kw, home_q_kvar : dict wijk -> ndarray [n_step, n_home]
            Household consumption (everything behind the home's meter except
            rooftop PV) [kW], [kvar].
        rooftop_pv_kw : dict wijk -> ndarray [n_step, n_home]
            Rooftop PV production per home [kW] (0 for homes without PV).
        extra_p_kw : dict wijk -> ndarray [n_step, n_extra]
            Other LV connections' consumption [kW].
        mv_sgen_p_mw : ndarray [n_step, n_mv_sgen]
            MV generators' production [MW].
        time_utc : DatetimeIndex
            The block's steps (for messages).
        """
        n_step = len(time_utc)
        n_plan = len(self.plans)
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

        mv_net = self.mv.net
        mv_load_p = np.zeros((n_step, len(mv_net.load)))
        mv_load_q = np.zeros((n_step, len(mv_net.load)))
        mv_load_p[:, self._mv_load_pos_of_plan] = np.nan_to_num(p_sub)
        mv_load_q[:, self._mv_load_pos_of_plan] = np.nan_to_num(q_sub)
        mv_sgen_p = np.zeros((n_step, len(mv_net.sgen)))
        if len(self._mv_sgen_pos):
            mv_sgen_p[:, self._mv_sgen_pos] = mv_sgen_p_mw
        mv = self.mv_solver.solve(mv_load_p, mv_load_q, mv_sgen_p)
        if not mv.converged.all():
            messages += [f"MV network: {m}" for m in describe_non_converged(mv, time_utc)]
        v_sub = mv.vm_pu[:, self._mv_bus_pos_of_plan]  # [n_step, n_plan]

        n_wijk = len(self.wijk_codes)
        wijk_min = np.full((n_step, n_wijk), np.inf)
        wijk_max = np.full((n_step, n_wijk), -np.inf)
        low, high = self.voltage_band_pu
        bus_min, bus_max, bus_viol = [], [], []
        for k, (plan, result) in enumerate(zip(self.plans, lv_results)):
            vm = result.vm_pu[:, plan.lv_bus_positions] * v_sub[:, k:k + 1]
            w = self._plan_wijk[k]
            np.fmin(wijk_min[:, w], np.nanmin(vm, axis=1), out=wijk_min[:, w])
            np.fmax(wijk_max[:, w], np.nanmax(vm, axis=1), out=wijk_max[:, w])
            bus_min.append(np.nanmin(vm, axis=0))
            bus_max.append(np.nanmax(vm, axis=0))
            bus_viol.append(np.count_nonzero((vm < low) | (vm > high), axis=0))
        return BlockGridResult(
            trafo_loading_pct=np.column_stack([r.trafo_loading_pct[:, 0] for r in lv_results]),
            feeder_loading_pct=np.hstack([r.line_loading_pct[:, p.feeder_head_positions]
                                          for p, r in zip(self.plans, lv_results)]),
            mv_line_loading_pct=mv.line_loading_pct,
            station_trafo_loading_pct=mv.trafo_loading_pct,
            wijk_vm_min_pu=wijk_min,
            wijk_vm_max_pu=wijk_max,
            bus_vm_min_pu=np.concatenate(bus_min),
            bus_vm_max_pu=np.concatenate(bus_max),
            bus_violation_steps=np.concatenate(bus_viol),
            not_converged=messages,
        )


def _take(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Columns of `values` as float64 ``[n_step, len(columns)]``; column ``-1`` reads zero."""
    padded = np.concatenate([values, np.zeros((values.shape[0], 1), dtype=values.dtype)], axis=1)
    return padded[:, columns].astype(np.float64, copy=False)

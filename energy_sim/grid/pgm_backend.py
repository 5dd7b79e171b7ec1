"""power-grid-model backend: an independent second opinion and speed anchor (DESIGN.md decision 3).

Converts a balanced pandapower net to power-grid-model (PGM) input
(node, line, transformer, link, sym_load, sym_gen, source) and runs PGM's
batch Newton-Raphson power flow, single-threaded, over all time steps.

The conversion follows the component definitions of the PGM documentation
("Components", power-grid-model.readthedocs.io) and pandapower's element
documentation. Known model differences to pandapower, quantified in
``tests/grid/test_loadflow.py``:

* PGM's transformer is a pi model with the magnetising branch on the
  from-side, pandapower's default is a T model (``trafo_model="t"``).
* PGM's tap changer scales the voltage ratio on one side; pandapower moves
  the ratio and keeps the impedance on the hv side.
* A PGM ``source`` has an internal impedance ``u^2 / sk``; we use a very
  large ``sk`` (1e15 VA) to approach pandapower's ideal ``ext_grid``.

Results are returned as a :class:`~energy_sim.grid.loadflow.LoadFlowResult`
with loadings computed from PGM's branch currents with pandapower's
definitions (line: current over ``max_i_ka * df * parallel``; trafo:
current-based), so the two are directly comparable.
"""

from __future__ import annotations

import numpy as np
from power_grid_model import (
    CalculationMethod,
    ComponentType,
    DatasetType,
    LoadGenType,
    PowerGridModel,
    initialize_array,
)
from power_grid_model.enum import WindingType

from energy_sim.grid.loadflow import LoadFlowResult

__all__ = ["PgmLoadFlow"]

#: Short-circuit power of the PGM source [VA]; large so it acts as an ideal slack.
SOURCE_SK_VA = 1e15


def _switch_status(net, et, element, bus):
    """0 where an open switch of type ``et`` sits between ``element`` and ``bus``."""
    sw = net.switch[(net.switch.et == et) & ~net.switch.closed.astype(bool)]
    open_pairs = set(zip(sw.element.to_numpy(), sw.bus.to_numpy()))
    return np.array([0 if (e, b) in open_pairs else 1 for e, b in zip(element, bus)], dtype=np.int8)


class PgmLoadFlow:
    """Batch power flow of a pandapower net with power-grid-model.

    Parameters
    ----------
    net : pandapowerNet
        Balanced net with ext_grids, buses, lines, 2-winding trafos,
        bus-bus/line/trafo switches, loads and sgens (constant power).
    """

    def __init__(self, net):
        self._net = net
        bus_ids = net.bus.index.to_numpy()
        next_id = int(bus_ids.max()) + 1

        def new_ids(n):
            nonlocal next_id
            ids = np.arange(next_id, next_id + n)
            next_id += n
            return ids

        node = initialize_array(DatasetType.input, ComponentType.node, len(net.bus))
        node["id"] = bus_ids
        node["u_rated"] = net.bus.vn_kv.to_numpy(float) * 1e3

        line = net.line
        self._line_ids = new_ids(len(line))
        pl = initialize_array(DatasetType.input, ComponentType.line, len(line))
        length_km = line.length_km.to_numpy(float)
        par = line.parallel.to_numpy(float)
        on = line.in_service.to_numpy(bool).astype(np.int8)
        pl["id"] = self._line_ids
        pl["from_node"] = line.from_bus.to_numpy()
        pl["to_node"] = line.to_bus.to_numpy()
        pl["from_status"] = on * _switch_status(net, "l", line.index, line.from_bus)
        pl["to_status"] = on * _switch_status(net, "l", line.index, line.to_bus)
        pl["r1"] = line.r_ohm_per_km.to_numpy(float) * length_km / par
        pl["x1"] = line.x_ohm_per_km.to_numpy(float) * length_km / par
        c_f = line.c_nf_per_km.to_numpy(float) * 1e-9 * length_km * par
        pl["c1"] = c_f
        g_s = (line.g_us_per_km.to_numpy(float) if "g_us_per_km" in line else np.zeros(len(line))) * 1e-6 \
            * length_km * par
        omega = 2 * np.pi * net.f_hz
        pl["tan1"] = np.divide(g_s, omega * c_f, out=np.zeros_like(g_s), where=c_f > 0)
        self._line_i_max_ka = (line.max_i_ka * line.df * line.parallel).to_numpy(float)
        pl["i_n"] = self._line_i_max_ka * 1e3

        trafo = net.trafo
        self._trafo_ids = new_ids(len(trafo))
        pt = initialize_array(DatasetType.input, ComponentType.transformer, len(trafo))
        t_on = trafo.in_service.to_numpy(bool).astype(np.int8)
        tpar = trafo.parallel.to_numpy(float)
        pt["id"] = self._trafo_ids
        pt["from_node"] = trafo.hv_bus.to_numpy()
        pt["to_node"] = trafo.lv_bus.to_numpy()
        pt["from_status"] = t_on * _switch_status(net, "t", trafo.index, trafo.hv_bus)
        pt["to_status"] = t_on * _switch_status(net, "t", trafo.index, trafo.lv_bus)
        pt["u1"] = trafo.vn_hv_kv.to_numpy(float) * 1e3
        pt["u2"] = trafo.vn_lv_kv.to_numpy(float) * 1e3
        sn_va = trafo.sn_mva.to_numpy(float) * 1e6 * tpar  # parallel units: one equivalent unit
        pt["sn"] = sn_va
        pt["uk"] = trafo.vk_percent.to_numpy(float) / 100
        pt["pk"] = trafo.vkr_percent.to_numpy(float) / 100 * sn_va
        pt["i0"] = trafo.i0_percent.to_numpy(float) / 100
        pt["p0"] = trafo.pfe_kw.to_numpy(float) * 1e3 * tpar
        clock = np.rint(trafo.shift_degree.to_numpy(float) / 30).astype(np.int8) % 12
        pt["clock"] = clock
        odd = clock % 2 == 1
        pt["winding_from"] = np.where(odd, WindingType.delta, WindingType.wye_n)
        pt["winding_to"] = WindingType.wye_n
        tap_pos = np.nan_to_num(trafo.tap_pos.to_numpy(float))
        tap_neutral = np.nan_to_num(trafo.tap_neutral.to_numpy(float))
        lv_side = (trafo.tap_side == "lv").to_numpy()
        pt["tap_side"] = lv_side.astype(np.int8)
        pt["tap_pos"] = tap_pos
        pt["tap_nom"] = tap_neutral
        pt["tap_min"] = np.nan_to_num(trafo.tap_min.to_numpy(float), nan=tap_pos).astype(np.int8)
        pt["tap_max"] = np.nan_to_num(trafo.tap_max.to_numpy(float), nan=tap_pos).astype(np.int8)
        side_kv = np.where(lv_side, trafo.vn_lv_kv, trafo.vn_hv_kv).astype(float)
        pt["tap_size"] = np.nan_to_num(trafo.tap_step_percent.to_numpy(float)) / 100 * side_kv * 1e3
        self._trafo_vn_kv = np.stack([trafo.vn_hv_kv.to_numpy(float), trafo.vn_lv_kv.to_numpy(float)])
        self._trafo_sn_mva = trafo.sn_mva.to_numpy(float)
        self._trafo_par_df = (trafo.parallel * trafo.df).to_numpy(float)

        bb = net.switch[(net.switch.et == "b")]
        link = initialize_array(DatasetType.input, ComponentType.link, len(bb))
        link["id"] = new_ids(len(bb))
        link["from_node"] = bb.bus.to_numpy()
        link["to_node"] = bb.element.to_numpy()
        link["from_status"] = bb.closed.to_numpy(bool).astype(np.int8)
        link["to_status"] = link["from_status"]

        eg = net.ext_grid
        self._source_ids = new_ids(len(eg))
        src = initialize_array(DatasetType.input, ComponentType.source, len(eg))
        src["id"] = self._source_ids
        src["node"] = eg.bus.to_numpy()
        src["status"] = eg.in_service.to_numpy(bool).astype(np.int8)
        src["u_ref"] = eg.vm_pu.to_numpy(float)
        src["u_ref_angle"] = np.deg2rad(eg.va_degree.to_numpy(float))
        src["sk"] = SOURCE_SK_VA

        load = net.load
        self._load_ids = new_ids(len(load))
        self._load_w = (load.scaling * load.in_service).to_numpy(float)
        ld = initialize_array(DatasetType.input, ComponentType.sym_load, len(load))
        ld["id"] = self._load_ids
        ld["node"] = load.bus.to_numpy()
        ld["status"] = 1
        ld["type"] = LoadGenType.const_power
        ld["p_specified"] = 0.0
        ld["q_specified"] = 0.0

        sgen = net.sgen
        self._sgen_ids = new_ids(len(sgen))
        self._sgen_w = (sgen.scaling * sgen.in_service).to_numpy(float)
        sg = initialize_array(DatasetType.input, ComponentType.sym_gen, len(sgen))
        sg["id"] = self._sgen_ids
        sg["node"] = sgen.bus.to_numpy()
        sg["status"] = 1
        sg["type"] = LoadGenType.const_power
        sg["p_specified"] = 0.0
        sg["q_specified"] = 0.0

        self._model = PowerGridModel(
            {ComponentType.node: node, ComponentType.line: pl, ComponentType.transformer: pt,
             ComponentType.link: link, ComponentType.source: src, ComponentType.sym_load: ld,
             ComponentType.sym_gen: sg},
            system_frequency=float(net.f_hz))

    def solve(self, load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar=None, *,
              tolerance_pu: float = 1e-8, max_iteration: int = 20, threading: int = -1) -> LoadFlowResult:
        """Batch Newton-Raphson power flow over all steps.

        Parameters
        ----------
        load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar : array_like [n_step, n_element]
            As in :meth:`energy_sim.grid.loadflow.BatchedLoadFlow.solve` [MW], [Mvar].
        tolerance_pu : float
            PGM ``error_tolerance``: largest voltage change between iterations [p.u.].
        max_iteration : int
        threading : int
            PGM threading: -1 sequential (default, single-threaded), 0 all cores.

        Returns
        -------
        LoadFlowResult
            ``max_mismatch_mva`` is NaN (PGM does not report it); steps where PGM
            fails are not supported (PGM raises for the whole batch).
        """
        load_p_mw = np.atleast_2d(np.asarray(load_p_mw, float))
        n_step = load_p_mw.shape[0]
        load_q_mvar = np.asarray(load_q_mvar, float).reshape(load_p_mw.shape)
        sgen_p_mw = np.asarray(sgen_p_mw, float).reshape(n_step, -1)
        sgen_q_mvar = np.zeros_like(sgen_p_mw) if sgen_q_mvar is None else \
            np.asarray(sgen_q_mvar, float).reshape(sgen_p_mw.shape)
        ld = initialize_array(DatasetType.update, ComponentType.sym_load, (n_step, self._load_ids.size))
        ld["id"] = self._load_ids
        ld["p_specified"] = load_p_mw * self._load_w * 1e6
        ld["q_specified"] = load_q_mvar * self._load_w * 1e6
        sg = initialize_array(DatasetType.update, ComponentType.sym_gen, (n_step, self._sgen_ids.size))
        sg["id"] = self._sgen_ids
        sg["p_specified"] = sgen_p_mw * self._sgen_w * 1e6
        sg["q_specified"] = sgen_q_mvar * self._sgen_w * 1e6
        out = self._model.calculate_power_flow(
            symmetric=True, error_tolerance=tolerance_pu, max_iterations=max_iteration,
            calculation_method=CalculationMethod.newton_raphson,
            update_data={ComponentType.sym_load: ld, ComponentType.sym_gen: sg},
            threading=threading,
            output_component_types={
                ComponentType.node: ["u_pu", "u_angle", "energized"],
                ComponentType.line: ["i_from", "i_to"],
                ComponentType.transformer: ["i_from", "i_to"],
                ComponentType.source: ["p", "q"],
            })
        node = out[ComponentType.node]
        vm = np.where(node["energized"] == 1, node["u_pu"], np.nan)
        va = np.where(node["energized"] == 1, np.rad2deg(node["u_angle"]), np.nan)
        line_i_ka = np.maximum(out[ComponentType.line]["i_from"], out[ComponentType.line]["i_to"]) * 1e-3
        tr = out[ComponentType.transformer]
        ld_t = np.maximum(tr["i_from"] * 1e-3 * self._trafo_vn_kv[0], tr["i_to"] * 1e-3 * self._trafo_vn_kv[1])
        trafo_loading = ld_t * np.sqrt(3.0) / self._trafo_sn_mva * 100.0 / self._trafo_par_df
        src = out[ComponentType.source]
        net = self._net
        return LoadFlowResult(
            vm_pu=vm, va_degree=va,
            line_loading_pct=line_i_ka / self._line_i_max_ka * 100.0, line_i_ka=line_i_ka,
            trafo_loading_pct=trafo_loading,
            ext_grid_p_mw=src["p"] * 1e-6, ext_grid_q_mvar=src["q"] * 1e-6,
            converged=np.ones(n_step, bool), max_mismatch_mva=np.full(n_step, np.nan),
            max_mismatch_bus=np.full(n_step, -1, np.int64), iterations=np.zeros(n_step, np.int64),
            bus_index=net.bus.index.to_numpy(), line_index=net.line.index.to_numpy(),
            trafo_index=net.trafo.index.to_numpy(), ext_grid_index=net.ext_grid.index.to_numpy())

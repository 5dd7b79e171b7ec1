"""Outages in the city solve: an MV cable out with the ring's open point closed, an MV/LV transformer out.

Done when (issue 5, item 3): "an outage that changes loading elsewhere". The
references are independent of the code under test: the modified MV net is
built here by hand (cable out of service, the ring's switch closed) and
solved with ``pandapower.runpp``; the MV loads are the LV grids' infeed from
``runpp`` of each LV grid. Tolerances as in tests/grid/test_simulate.py:
1e-6 p.u. and 0.01 percentage points.
"""

import copy

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from energy_sim.grid.build import ConnectionKind as K
from energy_sim.grid.build import MvConnection
from energy_sim.grid.simulate import NORMAL_TOPOLOGY, CitySolver, MvTopology, mv_feeding_lines
from cities import small_city

VM_TOL_PU = 1e-6
LOADING_TOL_PCT = 0.01
N_STEP = 4
DT_H = 0.25
T = pd.date_range("2025-01-15 17:00", periods=N_STEP, freq="15min", tz="UTC")


@pytest.fixture(scope="module")
def city():
    """Two small wijken (3 LV grids on one 10 kV ring), two public chargers, a solar field (the city
    of tests/grid/test_simulate.py)."""
    grid, home_ids, extra_ids = small_city((MvConnection("field", K.solar_field, "WK016405", 2.0),))
    solver = CitySolver(grid, list(grid.lv_grids), home_ids, extra_ids, ["field"], (0.9, 1.1))
    return grid, home_ids, extra_ids, solver


def evening_load(home_ids, extra_ids, seed=5):
    """Evening household load [kW]: 0.5-3 kW per home, a few 8 kW heat pumps, cos(phi) 0.97, no PV,
    chargers at 11 kW."""
    rng = np.random.default_rng(seed)
    p, q, pv, extra = {}, {}, {}, {}
    for code, ids in home_ids.items():
        n = len(ids)
        p[code] = rng.uniform(0.5, 3.0, (N_STEP, n)) + 8.0 * (rng.random((N_STEP, n)) < 0.05)
        q[code] = p[code] * np.tan(np.arccos(0.97))
        pv[code] = np.zeros((N_STEP, n))
        extra[code] = np.full((N_STEP, len(extra_ids[code])), 11.0)
    return p, q, pv, extra


FIELD_MW = np.array([[0.0], [0.3], [0.6], [0.9]])


def ring_cables(mv):
    """(cable leaving the station towards the half with more substations, the other station-end cable)."""
    net = mv.net
    busbar = int(mv.stations.mv_bus.iloc[0])
    heads = net.line[(net.line.ring == 0) & ((net.line.from_bus == busbar) | (net.line.to_bus == busbar))]
    feeding = mv_feeding_lines(mv)
    subs_behind = {}
    for line in heads.index:
        # substations whose feeding path starts with this cable: count them through the graph by hand
        graph = pp.topology.create_nxgraph(net, respect_switches=True)
        graph.remove_edge(*(int(heads.at[line, "from_bus"]), int(heads.at[line, "to_bus"])), key=("line", line))
        cut = pp.topology.unsupplied_buses(net, mg=graph)
        subs_behind[line] = int(mv.substations.bus.isin(cut).sum())
    out, other = sorted(heads.index, key=lambda i: -subs_behind[i])
    assert subs_behind[out] >= 2, "the test needs a ring half with two substations"
    assert out in feeding.to_numpy()
    return int(out), int(other), subs_behind[out]


def lv_infeed_by_runpp(solver, p, q, extra):
    """Per LV grid and step, the power drawn at the MV side of its transformer from ``runpp`` [MW], [Mvar]."""
    p_sub = np.zeros((N_STEP, len(solver.plans)))
    q_sub = np.zeros_like(p_sub)
    pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], 1))], axis=1)  # noqa: E731
    for k, plan in enumerate(solver.plans):
        net = copy.deepcopy(plan.grid.net)
        c = plan.wijk_code
        load_p = (pad(p[c])[:, plan.load_home_column] + pad(extra[c])[:, plan.load_extra_column]) / 1000.0
        load_q = pad(q[c])[:, plan.load_home_column] / 1000.0
        for s in range(N_STEP):
            net.load["p_mw"] = load_p[s]
            net.load["q_mvar"] = load_q[s]
            net.sgen["p_mw"] = 0.0
            pp.runpp(net)
            p_sub[s, k] = net.res_ext_grid.p_mw.sum()
            q_sub[s, k] = net.res_ext_grid.q_mvar.sum()
    return p_sub, q_sub


def mv_by_runpp(net, solver, p_sub, q_sub, field_mw):
    """runpp of the MV net per step with the LV infeed as substation loads; (vm, line loading, trafo loading)."""
    net = copy.deepcopy(net)
    subs = solver.mv.substations.set_index("substation_id")
    loads = subs.loc[solver.lv_trafo_ids, "load"].to_numpy()
    field = int(solver.mv.connections.set_index("connection_id").at["field", "element_index"])
    vm, line, trafo = [], [], []
    for s in range(N_STEP):
        net.load["p_mw"] = 0.0
        net.load["q_mvar"] = 0.0
        net.load.loc[loads, "p_mw"] = p_sub[s]
        net.load.loc[loads, "q_mvar"] = q_sub[s]
        net.sgen.loc[field, "p_mw"] = field_mw[s, 0]
        pp.runpp(net)
        vm.append(net.res_bus.vm_pu.to_numpy().copy())
        line.append(net.res_line.loading_percent.to_numpy().copy())
        trafo.append(net.res_trafo.loading_percent.to_numpy().copy())
    return np.array(vm), np.array(line), np.array(trafo)


def test_cable_out_with_open_point_closed_raises_loading_elsewhere_and_matches_runpp(city):
    grid, home_ids, extra_ids, solver = city
    mv = grid.mv
    out, other, n_behind = ring_cables(mv)
    p, q, pv, extra = evening_load(home_ids, extra_ids)
    normal = solver.solve_block(p, q, pv, extra, FIELD_MW, T)
    topology = MvTopology(frozenset({out}), frozenset({out}))
    outage = solver.solve_block(p, q, pv, extra, FIELD_MW, T, mv_topology=[topology] * N_STEP)

    position = {line: i for i, line in enumerate(solver.mv_solver.line_index)}
    # the cable is out: no current; the other end of the ring now feeds all its substations
    np.testing.assert_array_equal(outage.mv_line_loading_pct[:, position[out]], 0.0)
    rise = outage.mv_line_loading_pct[:, position[other]] - normal.mv_line_loading_pct[:, position[other]]
    assert (rise > 1.0).all(), rise  # 2+ substations of ~100-400 kW each move over: several per cent of 7 MVA
    # every substation is supplied (restoration), so nothing is left unserved and the LV side is unchanged
    assert outage.lv_unserved_p_mw is None
    np.testing.assert_array_equal(outage.trafo_loading_pct, normal.trafo_loading_pct)

    # independent reference: the same modification made by hand, solved by runpp
    ref_net = copy.deepcopy(mv.net)
    ref_net.line.at[out, "in_service"] = False
    assert len(ref_net.switch) == 1  # one ring, one normally-open switch
    ref_net.switch["closed"] = True
    p_sub, q_sub = lv_infeed_by_runpp(solver, p, q, extra)
    vm_ref, line_ref, trafo_ref = mv_by_runpp(ref_net, solver, p_sub, q_sub, FIELD_MW)
    np.testing.assert_allclose(outage.mv_line_loading_pct, line_ref, rtol=0, atol=LOADING_TOL_PCT)
    np.testing.assert_allclose(outage.station_trafo_loading_pct, trafo_ref, rtol=0, atol=LOADING_TOL_PCT)
    # and the reference sees the rise too (the check above is not about an unchanged network)
    _, line_normal, _ = mv_by_runpp(mv.net, solver, p_sub, q_sub, FIELD_MW)
    assert (line_ref[:, position[other]] - line_normal[:, position[other]] > 1.0).all()

    # MV voltages of the topology's own solver against runpp on the same loads
    batched = solver.mv_variant(topology)[0]
    subs = mv.substations.set_index("substation_id")
    load_p = np.zeros((N_STEP, len(mv.net.load)))
    load_q = np.zeros_like(load_p)
    load_pos = mv.net.load.index.get_indexer(subs.loc[solver.lv_trafo_ids, "load"])
    load_p[:, load_pos], load_q[:, load_pos] = p_sub, q_sub
    sgen_p = np.zeros((N_STEP, len(mv.net.sgen)))
    sgen_p[:, mv.net.sgen.index.get_indexer([mv.connections.set_index("connection_id").at["field", "element_index"]])] = FIELD_MW
    result = batched.solve(load_p, load_q, sgen_p)
    np.testing.assert_allclose(result.vm_pu, vm_ref, rtol=0, atol=VM_TOL_PU)
    np.testing.assert_allclose(result.line_loading_pct, line_ref, rtol=0, atol=LOADING_TOL_PCT)


def test_cable_out_without_restoration_leaves_the_substations_behind_it_unserved(city):
    grid, home_ids, extra_ids, solver = city
    out, _, n_behind = ring_cables(grid.mv)
    p, q, pv, extra = evening_load(home_ids, extra_ids)
    result = solver.solve_block(p, q, pv, extra, FIELD_MW, T,
                                mv_topology=[MvTopology(frozenset({out}))] * N_STEP)
    dead = (result.lv_unserved_p_mw > 0).all(axis=0)
    assert dead.sum() == n_behind
    np.testing.assert_array_equal(result.trafo_loading_pct[:, dead], 0.0)
    assert (result.trafo_loading_pct[:, ~dead] > 0).all()
    assert result.not_converged == []


def test_transformer_out_leaves_its_grid_unserved_for_the_window(city):
    """Energy not served = the hand-summed load of that LV grid's connections during the window."""
    grid, home_ids, extra_ids, solver = city
    p, q, pv, extra = evening_load(home_ids, extra_ids)
    k = 1  # the second MV/LV substation
    plan = solver.plans[k]
    lv_out = np.zeros((N_STEP, len(solver.plans)), dtype=bool)
    lv_out[1:3, k] = True  # out for steps 1 and 2
    normal = solver.solve_block(p, q, pv, extra, FIELD_MW, T)
    result = solver.solve_block(p, q, pv, extra, FIELD_MW, T, lv_out=lv_out)

    # hand sum from the grid's own connection table: its homes' and chargers' columns
    code = plan.wijk_code
    conns = plan.grid.connections
    homes = [home_ids[code].index(c) for c in conns.connection_id[conns.kind == "household"]]
    chargers = [extra_ids[code].index(c) for c in conns.connection_id[conns.kind == "ev_charger"]]
    hand_kw = p[code][:, homes].sum(axis=1) + extra[code][:, chargers].sum(axis=1)
    expected_mw = np.where(lv_out[:, k], hand_kw / 1000.0, 0.0)
    np.testing.assert_allclose(result.lv_unserved_p_mw[:, k], expected_mw, rtol=1e-12)
    assert result.lv_unserved_p_mw[:, np.arange(len(solver.plans)) != k].sum() == 0.0
    assert hand_kw[1:3].sum() > 100.0  # ~175 homes in the evening: the check is not about zeros
    # energy not served over the window [MWh] = sum of the load x 15 min
    np.testing.assert_allclose(result.lv_unserved_p_mw.sum() * DT_H, hand_kw[1:3].sum() / 1000.0 * DT_H, rtol=1e-12)

    # no supply: zero loading in the window, unchanged outside; the station carries less
    assert (result.trafo_loading_pct[1:3, k] == 0.0).all()
    np.testing.assert_array_equal(result.trafo_loading_pct[[0, 3]], normal.trafo_loading_pct[[0, 3]])
    assert (result.station_trafo_loading_pct[1:3] < normal.station_trafo_loading_pct[1:3]).all()
    # its buses have no voltage (left out of the minima), the other grids' are unchanged in shape
    assert np.isfinite(result.bus_vm_min_pu).all()


def test_normal_topology_gives_the_same_block_as_no_topology(city):
    grid, home_ids, extra_ids, solver = city
    args = evening_load(home_ids, extra_ids)
    a = solver.solve_block(*args, FIELD_MW, T)
    b = solver.solve_block(*args, FIELD_MW, T, mv_topology=[NORMAL_TOPOLOGY] * N_STEP,
                           lv_out=np.zeros((N_STEP, len(solver.plans)), dtype=bool))
    for name in ("trafo_loading_pct", "feeder_loading_pct", "mv_line_loading_pct", "station_trafo_loading_pct",
                 "wijk_vm_min_pu", "bus_vm_min_pu"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert b.lv_unserved_p_mw is None


def test_topology_solvers_are_built_once_per_topology(city):
    grid, home_ids, extra_ids, solver = city
    out, _, _ = ring_cables(grid.mv)
    topology = MvTopology(frozenset({out}), frozenset({out}))
    first = solver.mv_variant(topology)[0]
    assert solver.mv_variant(MvTopology(frozenset({out}), frozenset({out})))[0] is first
    assert solver.mv_variant(NORMAL_TOPOLOGY)[0] is solver.mv_solver


def test_per_grid_path_applies_outages_like_the_merged_path(city):
    grid, home_ids, extra_ids, solver = city
    out, _, _ = ring_cables(grid.mv)
    per_grid = CitySolver(grid, list(grid.lv_grids), home_ids, extra_ids, ["field"], (0.9, 1.1), lv_solver="per_grid")
    args = evening_load(home_ids, extra_ids)
    topology = [NORMAL_TOPOLOGY, MvTopology(frozenset({out})), MvTopology(frozenset({out}), frozenset({out})),
                NORMAL_TOPOLOGY]
    lv_out = np.zeros((N_STEP, len(solver.plans)), dtype=bool)
    lv_out[3, 2] = True
    a = solver.solve_block(*args, FIELD_MW, T, mv_topology=topology, lv_out=lv_out)
    b = per_grid.solve_block(*args, FIELD_MW, T, mv_topology=topology, lv_out=lv_out)
    for name in ("trafo_loading_pct", "feeder_loading_pct", "mv_line_loading_pct", "station_trafo_loading_pct",
                 "wijk_vm_min_pu", "wijk_vm_max_pu", "bus_vm_min_pu", "bus_vm_max_pu", "lv_unserved_p_mw"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-9, err_msg=name)
    # step 1 (no restoration) leaves substations unserved, step 2 (restored) none, step 3 the transformer's grid
    assert (a.lv_unserved_p_mw[1] > 0).sum() >= 2
    assert (a.lv_unserved_p_mw[[0, 2]] == 0).all()
    np.testing.assert_array_equal(a.lv_unserved_p_mw[3] > 0, [False, False, True])

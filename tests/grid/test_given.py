"""Given grids (energy_sim.grid.given): split at the MV/LV transformers, dwellings on the given
connection points, safe reading of untrusted pandapower JSON.

Reference: ``pandapower.runpp`` on the ORIGINAL net with the same powers at the same buses.
Both sides hold the transformer's HV bus at 1.0 p.u., angle 0 (the engine solves LV grids at
1.0 p.u. and scales by the MV solution, energy_sim.grid.simulate), so the original's ext_grid is
set to that; with no impedance between the ext_grid and the HV bus the two are then the same
circuit. Tolerances as for the generated grids: |Δvm| <= 1e-6 p.u., |Δloading| <= 0.01 pct-pt.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pandapower as pp
import pytest

from energy_sim.grid.build import ConnectionKind, LvConnection, WijkSpec, build_city_grid
from energy_sim.grid.given import (
    GivenGridError,
    build_given_wijk_grids,
    check_json_classes,
    read_pandapower_json,
    spread_dwellings,
    split_lv_grids,
)
from energy_sim.grid.loadflow import BatchedLoadFlow
from energy_sim.grid.simulate import CitySolver
from given_nets import LOAD_P_MW, MV_LAT_DEG, MV_LON_DEG, two_substation_net

VM_TOL_PU = 1e-6
LOADING_TOL_PCT = 0.01


def _solve_converted_like_original(original, given, seed=11):
    """Loads at every original load's bus (one dwelling per connection point, same powers), PV at every
    load bus; runpp on the original and BatchedLoadFlow on each converted grid. Returns the largest
    differences (vm [p.u.], line loading [pct-pt], trafo loading [pct-pt]) and the reference's peak loadings."""
    rng = np.random.default_rng(seed)
    ref = copy.deepcopy(original)
    ref.ext_grid["vm_pu"] = 1.0
    ref.ext_grid["va_degree"] = 0.0
    ref.sgen["in_service"] = False
    lv_load = ref.load.bus.isin(ref.bus.index[ref.bus.vn_kv < 1.0])
    ref.load.loc[~lv_load, "in_service"] = False
    n = int(lv_load.sum())
    # a heavy evening with a little PV: 2-9 kW per point, cos(phi) 0.97, PV 0-3 kW
    p_mw = rng.uniform(0.002, 0.009, n)
    q_mvar = p_mw * np.tan(np.arccos(0.97))
    pv_mw = rng.uniform(0.0, 0.003, n)
    ref.load.loc[lv_load, "p_mw"] = p_mw
    ref.load.loc[lv_load, "q_mvar"] = q_mvar
    for c in ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent"):
        if c in ref.load:
            ref.load[c] = 0.0
    pp.create_sgens(ref, ref.load.bus[lv_load].to_numpy(), p_mw=pv_mw)
    pp.runpp(ref, tolerance_mva=1e-11, calculate_voltage_angles=True)

    grids = build_given_wijk_grids(given, given.n_points, rng=np.random.default_rng(0), name="WK000001")
    worst = np.zeros(3)
    k0 = 0
    for grid in grids:
        homes = grid.connections[grid.connections.kind == "household"]
        n_grid = len(homes)
        # one dwelling per point, points in the original loads' order: home k <-> LV load k
        net = grid.net
        load_p = np.zeros(len(net.load))
        load_q = np.zeros(len(net.load))
        sgen_p = np.zeros(len(net.sgen))
        load_p[net.load.index.get_indexer(homes.element_index)] = p_mw[k0:k0 + n_grid]
        load_q[net.load.index.get_indexer(homes.element_index)] = q_mvar[k0:k0 + n_grid]
        pv = grid.connections[grid.connections.kind == "rooftop_pv"]
        sgen_p[net.sgen.index.get_indexer(pv.element_index)] = pv_mw[k0:k0 + n_grid]
        assert (homes.bus.to_numpy() == ref.load.bus[lv_load].to_numpy()[k0:k0 + n_grid]).all()
        k0 += n_grid
        r = BatchedLoadFlow(net).solve(load_p[None], load_q[None], sgen_p[None])
        assert r.converged.all()
        worst = np.maximum(worst, [
            np.abs(r.vm_pu[0] - ref.res_bus.vm_pu.loc[r.bus_index].to_numpy()).max(),
            np.abs(r.line_loading_pct[0] - ref.res_line.loading_percent.loc[r.line_index].to_numpy()).max(),
            np.abs(r.trafo_loading_pct[0] - ref.res_trafo.loading_percent.loc[r.trafo_index].to_numpy()).max(),
        ])
    return worst, ref.res_trafo.loading_percent.max(), ref.res_line.loading_percent.max()


@pytest.mark.parametrize("code", ["1-LV-rural1--0-sw", "1-LV-urban6--0-sw"])
def test_converted_simbench_grid_matches_runpp_on_the_original(simbench_grid, code):
    net, _ = simbench_grid(code)
    given = split_lv_grids(net, code)
    assert len(given.parts) == 1
    assert given.n_points == len(net.load)
    worst, trafo_peak, line_peak = _solve_converted_like_original(net, given)
    # measured (2026-11): rural1 ~1e-9 p.u., ~1e-6 pct-pt; urban6 ~7e-9 p.u., ~1e-5 pct-pt
    assert worst[0] <= VM_TOL_PU, worst
    assert worst[1] <= LOADING_TOL_PCT and worst[2] <= LOADING_TOL_PCT, worst
    assert trafo_peak > 20.0  # a loaded grid, not a trivial comparison
    # lines, trafo, rating and switches carried over unchanged
    part = given.parts[0]
    pd_cols = ["r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "length_km", "max_i_ka", "parallel", "df"]
    np.testing.assert_array_equal(part.net.line[pd_cols].to_numpy(), net.line.loc[part.net.line.index, pd_cols].to_numpy())
    assert part.sn_mva == net.trafo.sn_mva.iloc[0]


def test_split_of_a_net_with_two_substations_a_busbar_coupler_and_an_open_tie():
    net = two_substation_net()
    given = split_lv_grids(net, "two.json")
    oost, west = given.parts
    assert (oost.name, west.name) == ("MSR Oost", "MSR West")
    assert (oost.sn_mva, west.sn_mva) == (0.4, 0.25)
    # Oost: busbar 1 = 2 (coupler), feeder 1 = line 0 (buses 3, 4), feeder 2 = line 2 (bus 5); tie (line 4) dropped
    assert sorted(oost.net.bus.index) == [0, 1, 2, 3, 4, 5]
    assert sorted(oost.net.line.index) == [0, 1, 2]
    assert oost.feeder_lines == (0, 2)
    assert oost.net.bus.feeder.to_dict() == {0: -1, 1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
    assert oost.net.line.feeder.to_dict() == {0: 1, 1: 1, 2: 2}
    assert oost.point_bus.tolist() == [3, 4, 4, 5]
    assert oost.point_position.tolist() == [1, 2, 2, 1]  # cables from the busbar; the coupler counts none
    assert list(oost.net.switch.name) == ["busbar coupler"]
    assert sorted(west.net.bus.index) == [0, 6, 7] and west.point_bus.tolist() == [7]
    assert len(west.net.switch) == 0  # the open tie's switch left with its line
    # the tie, open at bus 7, still hangs on bus 5 (its charging admittance, as pandapower models it)
    assert oost.net.shunt.bus.tolist() == [5] and len(west.net.shunt) == 0
    # ext_grid at the HV bus at 1.0 p.u.; no loads or generators are carried over
    for part in given.parts:
        assert part.net.ext_grid.bus.tolist() == [0] and part.net.ext_grid.vm_pu.tolist() == [1.0]
        assert len(part.net.load) == 0 and len(part.net.sgen) == 0
    assert (oost.lon, oost.lat) == (MV_LON_DEG, MV_LAT_DEG)
    # dropped: the five LV loads (0.065 MW) and the PV; the MV customer is not in any LV grid
    n, p_mw = given.dropped["load"]
    assert n == 5 and p_mw == pytest.approx(sum(LOAD_P_MW))
    assert given.dropped["sgen"] == (1, 0.005)


def test_two_substation_net_converted_matches_runpp():
    net = two_substation_net()
    worst, trafo_peak, _ = _solve_converted_like_original(net, split_lv_grids(net, "two.json"))
    # measured: 8e-11 p.u., 2e-7 pct-pt (without the open tie's shunt: 4e-7 p.u., 9e-4 pct-pt)
    assert worst[0] <= VM_TOL_PU and worst[1] <= LOADING_TOL_PCT and worst[2] <= LOADING_TOL_PCT, worst
    assert trafo_peak > 2.0


@pytest.mark.parametrize("change, rule", [
    (lambda net: net.switch.__setitem__("closed", True), "several_transformers_per_lv_grid"),  # tie closed
    (lambda net: net.trafo.__setitem__("in_service", False), "no_mv_lv_transformer"),
    (lambda net: net.load.drop(net.load.index[net.load.bus == 7], inplace=True), "no_connection_points"),
])
def test_nets_that_cannot_be_split_are_refused_with_their_rule(change, rule):
    net = two_substation_net()
    change(net)
    with pytest.raises(GivenGridError) as err:
        split_lv_grids(net, "two.json")
    assert err.value.rule == rule


def test_dwellings_spread_evenly_over_the_connection_points_counted_per_bus():
    given = split_lv_grids(two_substation_net(), "two.json")
    # 5 points (buses 3, 4, 4, 5 under Oost; 7 under West), 12 dwellings: 12 // 5 = 2 each, 2 points get a third
    grids = build_given_wijk_grids(given, 12, rng=np.random.default_rng(4), name="WK016400")
    assert [g.name for g in grids] == ["WK016400/MSR Oost", "WK016400/MSR West"]
    per_bus = {}
    for g in grids:
        homes = g.connections[g.connections.kind == "household"]
        pv = g.connections[g.connections.kind == "rooftop_pv"]
        # every dwelling has its own load and PV sgen, on its point's bus
        assert len(homes) == len(pv) == len(g.net.load) == len(g.net.sgen) == g.n_homes
        assert (g.net.load.bus.loc[homes.element_index].to_numpy() == homes.bus.to_numpy()).all()
        assert (pv.connection_id.to_numpy() == (homes.connection_id + "/pv").to_numpy()).all()
        assert (pv.bus.to_numpy() == homes.bus.to_numpy()).all()
        for bus, count in homes.bus.value_counts().items():
            per_bus[(g.name, bus)] = count
    assert sum(per_bus.values()) == 12
    # by hand: 1-point buses carry 2 or 3, bus 4 (two points) 4 to 6, and exactly two points carry 3
    assert per_bus[("WK016400/MSR Oost", 3)] in (2, 3) and per_bus[("WK016400/MSR Oost", 5)] in (2, 3)
    assert per_bus[("WK016400/MSR West", 7)] in (2, 3) and 4 <= per_bus[("WK016400/MSR Oost", 4)] <= 6
    assert spread_dwellings(12, 5, np.random.default_rng(4)).tolist().count(3) == 2


def test_same_seed_gives_the_same_assignment_and_another_seed_may_not():
    given = split_lv_grids(two_substation_net(), "two.json")
    extras = [LvConnection(f"laadpaal/{i}", ConnectionKind.ev_charger, "WK016400", p_kw=11.0) for i in range(4)]

    def assignment(seed):
        grids = build_given_wijk_grids(given, 13, rng=np.random.default_rng(seed), name="WK016400",
                                       extra_connections=extras)
        return [tuple(g.connections[["connection_id", "bus"]].itertuples(index=False)) for g in grids]

    assert assignment(1) == assignment(1)
    assert any(assignment(1) != assignment(s) for s in range(2, 8))
    # chargers sit on given load buses (3, 4, 5 or 7)
    rows = [r for grid in assignment(1) for r in grid if r[0].startswith("laadpaal")]
    assert len(rows) == 4 and {bus for _, bus in rows} <= {3, 4, 5, 7}


def test_city_with_a_given_wijk_pairs_pv_with_its_household_when_homes_share_a_bus():
    given = split_lv_grids(two_substation_net(), "two.json")
    wijken = (WijkSpec("WK016400", "Hengelo Noord", 12, 6.80, 52.27), WijkSpec("WK016405", "Berflo Es", 150, 6.80, 52.25))
    city = build_city_grid(wijken, rng=np.random.default_rng(3), given={"WK016400": given})
    subs = city.mv.substations.set_index("substation_id")
    assert list(subs.index[:2]) == ["WK016400/MSR Oost", "WK016400/MSR West"]
    home_ids = {c: [i for g in city.lv_grids[c] for i in g.connections.connection_id[g.connections.kind == "household"]]
                for c in ("WK016400", "WK016405")}
    solver = CitySolver(city, ["WK016400", "WK016405"], home_ids, {"WK016400": [], "WK016405": []}, [], (0.9, 1.1))
    for plan in solver.plans:
        loads = plan.grid.net.load
        sgens = plan.grid.net.sgen
        # each PV sgen takes the column of the household load named like it, on the same bus
        by_name = dict(zip(loads.name, plan.load_home_column))
        for name, column, bus in zip(sgens.name, plan.sgen_home_column, sgens.bus):
            assert column == by_name[name.removesuffix(" pv")]
        assert (plan.sgen_home_column >= 0).all()
    # a home's PV is its own: PV on one home of a shared bus lowers the grid's draw by that much only
    n = {c: len(v) for c, v in home_ids.items()}
    p = {c: np.full((1, n[c]), 1.0) for c in n}
    q = {c: np.zeros((1, n[c])) for c in n}
    pv = {c: np.zeros((1, n[c])) for c in n}
    import pandas as pd
    t = pd.date_range("2025-06-01 12:00", periods=1, freq="15min", tz="UTC")
    base = solver.solve_block(p, q, pv, {c: np.zeros((1, 0)) for c in n}, np.zeros((1, 0)), t)
    pv["WK016400"][0, 0] = 1.0  # the first home's PV equals its load: the home nets to zero
    net0 = solver.solve_block(p, q, pv, {c: np.zeros((1, 0)) for c in n}, np.zeros((1, 0)), t)
    assert net0.trafo_loading_pct[0, 0] < base.trafo_loading_pct[0, 0]
    assert net0.trafo_loading_pct[0, 1] == pytest.approx(base.trafo_loading_pct[0, 1], abs=1e-9)


def test_given_positions_near_the_wijk_are_used_far_ones_are_not():
    given = split_lv_grids(two_substation_net(), "two.json")
    near = build_city_grid((WijkSpec("WK016400", "Noord", 12, 6.80, 52.27),), rng=np.random.default_rng(3),
                           given={"WK016400": given})
    far = build_city_grid((WijkSpec("WK016400", "Noord", 12, 4.90, 52.37),), rng=np.random.default_rng(3),
                          given={"WK016400": given})
    # both substations stand at the MV bus's position near Hengelo: zero distance between them
    xy = near.mv.substations[["x_m", "y_m"]].to_numpy()
    assert np.hypot(*(xy[0] - xy[1])) == pytest.approx(0.0, abs=1e-6)
    xy_far = far.mv.substations[["x_m", "y_m"]].to_numpy()
    assert np.hypot(*(xy_far[0] - xy_far[1])) > 1.0  # placed as for a generated wijk (Amsterdam is 130 km away)


# --------------------------------------------------------------------------
# untrusted files


def _hostile_text(payload: dict, nested: bool) -> str:
    data = json.loads(pp.to_json(two_substation_net()))
    if nested:
        # inside a JSON string, with the key escaped, as pandapower nests objects
        inner = json.dumps(payload).replace("_module", "\\u005fmodule")
        data["_object"]["bus"]["_object"] = data["_object"]["bus"]["_object"][:-1] + ', "x": ' + json.dumps(inner) + "}"
        data["_object"]["user_pf_options"] = {"_module": "pandas.core.frame", "_class": "DataFrame",
                                              "_object": inner}
    else:
        data["_object"]["extra"] = payload
    return json.dumps(data)


@pytest.mark.parametrize("nested", [False, True])
def test_json_naming_a_module_outside_the_allowed_set_is_refused_before_pandapower_reads_it(tmp_path, nested):
    path = tmp_path / "hostile.json"
    path.write_text(_hostile_text({"_module": "this", "_class": "x", "_object": "{}"}, nested))
    with pytest.raises(GivenGridError) as err:
        read_pandapower_json(path)
    assert err.value.rule == "disallowed_object" and err.value.value == "this.x"


def test_pandapower_alone_would_import_the_named_module():
    """Why the guard exists: pandapower.from_json_string imports the module a file names (here the
    harmless `this`, which prints the Zen of Python when imported)."""
    text = _hostile_text({"_module": "this", "_class": "x", "_object": "{}"}, nested=False)
    code = "import sys, pandapower as pp\ntry:\n    pp.from_json_string(sys.stdin.read())\nexcept Exception:\n    pass\n"
    done = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True)
    assert "Beautiful is better than ugly" in done.stdout


def test_a_net_written_by_pandapower_reads_back_and_splits_the_same(tmp_path):
    path = tmp_path / "two.json"
    pp.to_json(two_substation_net(), str(path))
    check_json_classes(path.read_text(), "two.json")
    given = split_lv_grids(read_pandapower_json(path), "two.json")
    assert [p.name for p in given.parts] == ["MSR Oost", "MSR West"] and given.n_points == 5


@pytest.mark.parametrize("text, rule", [("{not json", "invalid_json"), ("[1, 2]", "invalid_pandapower_json")])
def test_files_that_are_not_pandapower_nets_are_refused(tmp_path, text, rule):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(GivenGridError) as err:
        read_pandapower_json(path)
    assert err.value.rule == rule


def test_a_deeply_nested_file_and_a_60_hz_net_are_refused_cleanly(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # beyond Python's recursion limit
    with pytest.raises(GivenGridError) as err:
        read_pandapower_json(deep)
    assert err.value.rule == "invalid_json"
    net = two_substation_net()
    net.f_hz = 60.0
    with pytest.raises(GivenGridError) as err:
        split_lv_grids(net, "us.json")
    assert err.value.rule == "frequency" and err.value.value == 60.0


def _set(table: str, column: str, value):
    def change(net):
        net[table] = net[table].assign(**{column: value})
    return change


@pytest.mark.parametrize("change, element", [
    (_set("trafo", "vk_percent", 0.0), "trafo 0 (MSR Oost) has vk_percent = 0"),
    (_set("trafo", "vkr_percent", 5.0), "trafo 0 (MSR Oost) has vkr_percent = 5 above vk_percent"),
    (_set("line", "r_ohm_per_km", np.nan), "line 0 (Oost 1a) has r_ohm_per_km = nan"),
    (_set("line", "length_km", 0.0), "line 0 (Oost 1a) has length_km = 0"),
    (_set("trafo", "tap_dependency_table", True), "trafo 0 (MSR Oost) has tap_dependency_table"),
])
def test_elements_the_load_flow_cannot_use_are_refused_by_name(change, element):
    net = two_substation_net()
    change(net)
    with pytest.raises(GivenGridError) as err:
        split_lv_grids(net, "x.json")
    assert err.value.rule == "invalid_grid" and element in err.value.message, err.value.message

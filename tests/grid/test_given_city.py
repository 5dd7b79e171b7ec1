"""A whole-city given net (energy_sim.grid.given_mv): MV part as the MvGrid, LV grids per wijk by zone.

Reference for the MV part: ``pandapower.runpp`` on the ORIGINAL net with its MV/LV transformers out
of service and each substation's aggregate as a load on the transformer's HV bus; our batched solve
of the converted MV net with the same substation loads must agree to 1e-6 p.u. / 0.01 pct-pt.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from energy_sim.grid.build import ConnectionKind, MvConnection, WijkSpec
from energy_sim.grid.given import GivenGridError
from energy_sim.grid.given_mv import build_given_city_grid, split_city_net
from energy_sim.grid.loadflow import BatchedLoadFlow
from energy_sim.grid.simulate import CitySolver, mv_feeding_lines
from given_city_nets import city_net

WIJKEN = (WijkSpec("WK016400", "Hengelo Noord", 10, 6.800, 52.265),
          WijkSpec("WK016405", "Berflo Es", 7, 6.794, 52.260))


@pytest.fixture(scope="module")
def city():
    given = split_city_net(city_net(), "city.json")
    return given, build_given_city_grid(given, WIJKEN, rng=np.random.default_rng(5),
                                        mv_connections=(MvConnection("field", ConnectionKind.solar_field,
                                                                     "WK016405", 2.0),))


def test_stations_substations_rings_and_open_points_come_from_the_net(city):
    given, grid = city
    st = grid.mv.stations.iloc[0]
    assert len(grid.mv.stations) == 1
    assert (st["name"], st.hv_bus, st.mv_bus, st.trafo) == ("Hengelo TenneT", 0, 1, 0)
    subs = grid.mv.substations.set_index("substation_id")
    assert list(subs.index) == ["WK016400/MSR A", "WK016400/MSR B", "WK016405/MSR C"]
    assert subs.bus.tolist() == [2, 3, 4] and subs.ring.tolist() == [0, 0, 0]
    # the ring's four cables are ring 0; the open switch on cable 3-4 is the normally-open point
    assert grid.mv.net.line.ring.tolist() == [0, 0, 0, 0]
    assert grid.mv.net.switch.loc[grid.mv.open_switches, "name"].tolist() == ["open point"]
    # fed in normal operation: MSR A over cable 1-2, MSR B over 2-3, MSR C from the other side over 4-1
    assert mv_feeding_lines(grid.mv).to_dict() == {"WK016400/MSR A": 0, "WK016400/MSR B": 1, "WK016405/MSR C": 3}
    # the net's own MV load and generator are replaced; the solar field sits on bus 4, nearest Berflo Es
    assert given.dropped == {"load": (1, 1.0), "sgen": (1, 0.5)}
    assert len(grid.mv.net.load) == 3 and len(grid.mv.net.sgen) == 1
    assert grid.mv.connections.set_index("connection_id").at["field", "bus"] == 4
    # LV grids by zone: A and B (3 points, 10 dwellings) to Noord, C (3 points, 7 dwellings) to Berflo Es
    assert [g.name for g in grid.lv_grids["WK016400"]] == ["WK016400/MSR A", "WK016400/MSR B"]
    assert sum(g.n_homes for g in grid.lv_grids["WK016400"]) == 10
    assert [g.n_homes for g in grid.lv_grids["WK016405"]] == [7]


def test_mv_part_matches_runpp_on_the_original_with_the_substations_as_loads(city):
    _given, grid = city
    rng = np.random.default_rng(2)
    p_mw, q_mvar, field_mw = rng.uniform(0.1, 0.35, 3), rng.uniform(0.01, 0.08, 3), 1.5
    ref = copy.deepcopy(city_net())
    ref.trafo.loc[ref.trafo.name.str.startswith("MSR"), "in_service"] = False
    ref.load["in_service"] = False
    ref.sgen["in_service"] = False
    pp.create_loads(ref, [2, 3, 4], p_mw=p_mw, q_mvar=q_mvar)
    pp.create_sgen(ref, 4, p_mw=field_mw)
    pp.runpp(ref, tolerance_mva=1e-11)

    net = grid.mv.net
    load_p = np.zeros(len(net.load))
    load_q = np.zeros(len(net.load))
    subs = grid.mv.substations
    load_p[net.load.index.get_indexer(subs.load)] = p_mw
    load_q[net.load.index.get_indexer(subs.load)] = q_mvar
    r = BatchedLoadFlow(net).solve(load_p[None], load_q[None], np.array([[field_mw]]))
    dvm = np.abs(r.vm_pu[0] - ref.res_bus.vm_pu.loc[r.bus_index].to_numpy()).max()
    dline = np.abs(r.line_loading_pct[0] - ref.res_line.loading_percent.loc[r.line_index].to_numpy())
    dtrafo = np.abs(r.trafo_loading_pct[0] - ref.res_trafo.loading_percent.loc[r.trafo_index].to_numpy()).max()
    assert dvm <= 1e-6 and np.nanmax(dline) <= 0.01 and dtrafo <= 0.01, (dvm, dline, dtrafo)
    assert np.isnan(r.line_loading_pct[0]).sum() == 0 and ref.res_line.loading_percent.max() > 1.0


def test_city_solver_runs_on_the_given_city(city):
    _given, grid = city
    import pandas as pd

    ids = {c: [i for g in gs for i in g.connections.connection_id[g.connections.kind == "household"]]
           for c, gs in grid.lv_grids.items()}
    solver = CitySolver(grid, list(ids), ids, {c: [] for c in ids}, ["field"], (0.9, 1.1))
    t = pd.date_range("2025-01-15 18:00", periods=2, freq="15min", tz="UTC")
    p = {c: np.full((2, len(v)), 2.0) for c, v in ids.items()}
    zero = {c: np.zeros((2, len(v))) for c, v in ids.items()}
    r = solver.solve_block(p, zero, zero, {c: np.zeros((2, 0)) for c in ids}, np.zeros((2, 1)), t)
    assert solver.lv_trafo_ids == ["WK016400/MSR A", "WK016400/MSR B", "WK016405/MSR C"]
    assert np.all(r.trafo_loading_pct > 0) and np.all(np.isfinite(r.mv_line_loading_pct[:, [0, 1, 3]]))
    assert solver.station_trafo_table().trafo.tolist() == ["Weideweg 110/10 kV"]


def test_lv_grids_go_to_the_single_simulated_wijk_or_need_matching_zones():
    given = split_city_net(city_net(), "city.json")
    one = build_given_city_grid(given, WIJKEN[:1], rng=np.random.default_rng(0))
    assert [g.name for g in one.lv_grids["WK016400"]] == ["WK016400/MSR A", "WK016400/MSR B", "WK016400/MSR C"]
    other = (WIJKEN[0], WijkSpec("WK016409", "Tuindorp", 7, 6.79, 52.26))
    with pytest.raises(GivenGridError) as err:
        build_given_city_grid(given, other, rng=np.random.default_rng(0))
    assert err.value.rule == "zone_mismatch" and "'WK016405'" in err.value.message


# --------------------------------------------------------------------------
# stations with several transformers and busbar sections; substations behind a bus-bus switch


def _two_section_net():
    """city_net plus a second 25 MVA transformer on busbar section 2 (bus 11), joined to section 1 (bus 1)
    by a closed coupler; ring 1's cable 4-1 now ends on section 2, and a second ring 1 - 12 - 13 - 11
    (open at bus 13) runs between the sections."""
    net = city_net()
    sec2 = pp.create_bus(net, 10.0, name="section 2", geodata=(6.7930, 52.2660))
    assert sec2 == 11
    pp.create_transformer(net, 0, sec2, "25 MVA 110/10 kV", name="T2")
    pp.create_switch(net, 1, sec2, "b", closed=True, name="coupler")
    net.line.at[3, "to_bus"] = sec2
    b12, b13 = (pp.create_bus(net, 10.0, geodata=(6.79, 52.27)) for _ in range(2))
    lines = [pp.create_line(net, a, b, 0.5, "NA2XS2Y 1x240 RM/25 6/10 kV", name=f"r2 {a}-{b}")
             for a, b in ((1, b12), (b12, b13), (b13, sec2))]
    pp.create_switch(net, b13, lines[2], "l", closed=False, name="open point 2")
    return net


def test_parallel_station_transformers_on_coupled_sections_are_one_station_with_two_rings():
    from energy_sim.grid.simulate import MvTopology, apply_mv_topology

    given = split_city_net(_two_section_net(), "two_sections.json")
    st = given.stations
    # by hand: one ext_grid, both transformers in service on bus 0, sections 1 and 11 coupled
    assert len(st) == 1 and st.busbar.iloc[0] == (1, 11) and st.trafo.iloc[0] == 0
    grid = build_given_city_grid(given, WIJKEN, rng=np.random.default_rng(0))
    line = grid.mv.net.line
    # ring 0: cables 1-2, 2-3, 3-4, 4-11 (buses 2, 3, 4); ring 1: 1-12, 12-13, 13-11 (buses 12, 13)
    assert dict(zip(line.name, line.ring)) == {"ring 1-2": 0, "ring 2-3": 0, "ring 3-4": 0, "ring 4-1": 0,
                                               "r2 1-12": 1, "r2 12-13": 1, "r2 13-11": 1}
    assert sorted(grid.mv.net.switch.loc[grid.mv.open_switches, "name"]) == ["open point", "open point 2"]
    assert grid.mv.substations.ring.tolist() == [0, 0, 0]
    # MSR C is fed from section 2 over cable 4-11 (line 3)
    assert mv_feeding_lines(grid.mv).to_dict() == {"WK016400/MSR A": 0, "WK016400/MSR B": 1, "WK016405/MSR C": 3}
    # restoring an outage of cable 2-3 closes ring 0's open point only; ring 1 stays open
    restored = apply_mv_topology(grid.mv, MvTopology(frozenset({1}), frozenset({1})))
    after = restored.switch.loc[grid.mv.open_switches]
    assert after.name[after.closed.astype(bool)].tolist() == ["open point"]


def test_an_out_of_service_spare_transformer_listed_first_is_not_the_station():
    net = city_net()
    spare_lv = pp.create_bus(net, 10.0, name="spare section")
    t = pp.create_transformer(net, 0, spare_lv, "25 MVA 110/10 kV", name="spare", in_service=False)
    net.trafo = net.trafo.loc[[t] + [i for i in net.trafo.index if i != t]]
    given = split_city_net(net, "spare.json")
    assert given.stations[["mv_bus", "trafo"]].values.tolist() == [[1, 0]]
    assert given.stations.busbar.iloc[0] == (1,)
    grid = build_given_city_grid(given, WIJKEN, rng=np.random.default_rng(0))
    assert grid.mv.net.line.ring.tolist() == [0, 0, 0, 0]
    assert mv_feeding_lines(grid.mv).to_dict() == {"WK016400/MSR A": 0, "WK016400/MSR B": 1, "WK016405/MSR C": 3}


def test_a_substation_behind_a_bus_bus_switch_is_on_its_ring_and_fed_by_its_cable():
    """MSR A's HV side on its own ring-main-unit bus, joined to ring bus 2 by a closed bus-bus switch."""
    net = city_net()
    t = net.trafo.index[net.trafo.name == "MSR A"][0]
    rmu = pp.create_bus(net, 10.0, name="MSR A switchgear", geodata=(6.8010, 52.2660))
    pp.create_switch(net, 2, rmu, "b", closed=True)
    net.trafo.at[t, "hv_bus"] = rmu
    grid = build_given_city_grid(split_city_net(net, "rmu.json"), WIJKEN, rng=np.random.default_rng(0))
    subs = grid.mv.substations.set_index("substation_id")
    assert subs.at["WK016400/MSR A", "bus"] == rmu and subs.ring.tolist() == [0, 0, 0]
    assert mv_feeding_lines(grid.mv).to_dict() == {"WK016400/MSR A": 0, "WK016400/MSR B": 1, "WK016405/MSR C": 3}


@pytest.mark.parametrize("add, found", [
    (lambda n: pp.create_impedance(n, 2, 3, 0.01, 0.01, 100.0), "1 impedance"),
    (lambda n: pp.create_transformer3w(n, 0, 1, 4, "63/25/38 MVA 110/20/10 kV"), "1 trafo3w"),
])
def test_mv_elements_that_cannot_be_carried_over_are_refused_not_dropped(add, found):
    net = city_net()
    add(net)
    with pytest.raises(GivenGridError) as err:
        split_city_net(net, "city.json")
    assert err.value.rule == "unsupported_elements" and err.value.value == found


def test_an_mv_cable_without_impedance_data_is_refused_by_name():
    net = city_net()
    net.line.at[1, "x_ohm_per_km"] = np.nan
    with pytest.raises(GivenGridError) as err:
        split_city_net(net, "city.json")
    assert err.value.rule == "invalid_grid" and "MV part: line 1 (ring 2-3) has x_ohm_per_km = nan" in err.value.message


def test_the_run_note_says_when_the_one_simulated_wijk_gets_other_zones_lv_grids():
    from energy_sim.grid.given_mv import describe

    given = split_city_net(city_net(), "city.json")
    # zones: MSR A, MSR B in WK016400; MSR C in WK016405 (tests/grid/given_city_nets.py)
    assert ("all LV grids to the one simulated wijk WK016400, including 1 LV grid(s) of zone(s) 'WK016405' "
            "(other wijken, not simulated)") in describe(given, ["WK016400"])
    assert "LV grids to wijken by net.bus.zone;" in describe(given, ["WK016400", "WK016405"])

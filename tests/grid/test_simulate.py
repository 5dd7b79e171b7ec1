"""CitySolver on generated Hengelo-like grids: merged path vs per-grid path, vs pandapower.runpp,
and the LV -> MV hierarchy vs one combined pandapower net.

Tolerances (issue "Done when", DESIGN.md decision 3): |Δvm| <= 1e-6 p.u. and
|Δloading| <= 0.01 percentage points against ``pandapower.runpp``.
"""

import copy

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from energy_sim.grid.build import ConnectionKind as K
from energy_sim.grid.build import MvConnection
from energy_sim.grid.loadflow import run_pandapower_reference
from energy_sim.grid.multinet import MultiNetLoadFlow, merge_disjoint_nets
from energy_sim.grid.simulate import CitySolver, HomePower, HouseholdReactive, LvSolver, PvPerKwp, _voltage_extremes
from energy_sim.events.wiring import home_transformers
from cities import small_city

VM_TOL_PU = 1e-6
LOADING_TOL_PCT = 0.01
N_STEP = 8
T = pd.date_range("2025-01-15 06:00", periods=N_STEP, freq="15min", tz="UTC")


@pytest.fixture(scope="module")
def city():
    """Two small wijken (3 LV grids, 10 kV ring) with two public chargers, a solar field and a charging hub."""
    return small_city((MvConnection("field", K.solar_field, "WK016405", 2.0),
                       MvConnection("hub", K.charging_hub, "WK016400", 3.0)))


def injections(home_ids, extra_ids, seed=3):
    """Household-like injections [kW]: 0.1-2.5 kW with a few 8 kW heat pumps, PV on a third of homes
    (up to 3.5 kW around noon), cos(phi) 0.97, chargers at 11 kW half of the time."""
    rng = np.random.default_rng(seed)
    p, q, pv, extra = {}, {}, {}, {}
    for code, ids in home_ids.items():
        n = len(ids)
        p[code] = rng.uniform(0.1, 2.5, (N_STEP, n)) + 8.0 * (rng.random((N_STEP, n)) < 0.05)
        q[code] = p[code] * np.tan(np.arccos(0.97))
        pv[code] = (rng.random(n) < 0.33) * rng.uniform(0.0, 3.5, (N_STEP, n))
        extra[code] = 11.0 * (rng.random((N_STEP, len(extra_ids[code]))) < 0.5)
    return p, q, pv, extra


def mv_power(n_sgen):
    return np.linspace(0.0, 1.6, N_STEP)[:, None] * np.ones((1, n_sgen))


def test_merged_path_equals_per_grid_path(city):
    grid, home_ids, extra_ids = city
    args = injections(home_ids, extra_ids)
    codes = list(grid.lv_grids)
    results = {}
    for method in LvSolver:
        solver = CitySolver(grid, codes, home_ids, extra_ids, ["field"], (0.9, 1.1), lv_solver=method)
        results[method] = solver.solve_block(*args, mv_power(1), T)
    a, b = results[LvSolver.merged], results[LvSolver.per_grid]
    for name in ("trafo_loading_pct", "feeder_loading_pct", "mv_line_loading_pct", "station_trafo_loading_pct",
                 "wijk_vm_min_pu", "wijk_vm_max_pu", "bus_vm_min_pu", "bus_vm_max_pu"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9, err_msg=name)
    np.testing.assert_array_equal(a.bus_violation_steps, b.bus_violation_steps)
    assert a.not_converged == b.not_converged == []
    # something is actually loaded: the check above is not trivially about zeros
    assert a.trafo_loading_pct.max() > 20.0 and a.bus_vm_min_pu.min() < 0.99


def test_power_given_as_household_plus_additions_and_ratios_equal_per_home_arrays(city):
    # The engine gives the active power as the household load (one city-wide array) plus what heat pumps
    # and EV chargers add in some homes, the reactive power as q_per_p x the household load and rooftop
    # PV as output per kWp per transformer x each home's kWp (curtailment caps it per transformer); the
    # merged solve reads them with those factors as weights. Reference: the same block with the per-home
    # arrays worked out here, column by column.
    grid, home_ids, extra_ids = city
    codes = list(grid.lv_grids)
    rng = np.random.default_rng(7)
    q_per_p = float(np.tan(np.arccos(0.97)))
    household = rng.uniform(0.1, 2.5, (N_STEP, sum(len(home_ids[c]) for c in codes))).astype(np.float32)
    edges = np.cumsum([0] + [len(home_ids[c]) for c in codes])
    columns = {c: slice(a, z) for c, a, z in zip(codes, edges[:-1], edges[1:])}
    # 8 kW chargers in 30 % of the homes, on in 15 % of the steps (a wijk's first home never takes additions)
    added_columns = {c: np.flatnonzero(rng.random(len(home_ids[c])) < 0.3)[1:] for c in codes}
    home_power = HomePower.zeros(household, columns, added_columns)
    p = {c: household[:, columns[c]].astype(float) for c in codes}
    for c in codes:
        charging = 8.0 * (rng.random((N_STEP, added_columns[c].size)) < 0.15)
        home_power.add(c, added_columns[c], charging)
        p[c][:, added_columns[c]] += charging
        np.testing.assert_allclose(home_power[c], p[c], rtol=1e-6)
    code = codes[0]
    with pytest.raises(ValueError, match="take no additions"):
        home_power.add(code, [0], np.ones((N_STEP, 1)))
    # a copy's additions are its own; a head is a view
    forecast = home_power.copy()
    forecast.add(code, added_columns[code][:1], np.ones((N_STEP, 1)))
    np.testing.assert_allclose(home_power[code], p[code], rtol=1e-6)
    assert forecast.head(3)[code].shape == (3, len(home_ids[code]))
    extra = {c: 11.0 * (rng.random((N_STEP, len(extra_ids[c]))) < 0.5) for c in codes}
    for method in (LvSolver.merged, LvSolver.per_grid):
        solver = CitySolver(grid, codes, home_ids, extra_ids, ["field"], (0.9, 1.1), lv_solver=method)
        trafo = home_transformers(grid, codes, solver.lv_trafo_ids)
        kwp = {c: (rng.random(len(home_ids[c])) < 0.4) * rng.uniform(2.0, 6.0, len(home_ids[c])) for c in codes}
        # 0.6 kW/kWp at noon, one transformer curtailed to 0.2 kW/kWp
        kw_per_kwp = np.full((N_STEP, len(solver.lv_trafo_ids)), 0.6)
        kw_per_kwp[:, 1] = 0.2
        q_home = {c: q_per_p * household[:, columns[c]].astype(float) for c in codes}
        pv_home = {c: np.where(trafo[c] == 1, 0.2, 0.6) * kwp[c] * np.ones((N_STEP, 1)) for c in codes}
        reference = solver.solve_block(p, q_home, pv_home, extra, mv_power(1), T)
        ours = solver.solve_block(home_power, HouseholdReactive(household, q_per_p, columns),
                                  PvPerKwp(kw_per_kwp, trafo, kwp), extra, mv_power(1), T)
        for name in ("trafo_loading_pct", "feeder_loading_pct", "mv_line_loading_pct", "bus_vm_min_pu",
                     "bus_vm_max_pu"):
            np.testing.assert_allclose(getattr(ours, name), getattr(reference, name), rtol=0, atol=1e-6,
                                       err_msg=f"{method}: {name}")
        # a battery behind some homes measures their power and PV summed (BatteriesInRun), without
        # per-home arrays
        some = np.arange(0, len(home_ids[code]), 3)
        np.testing.assert_allclose(PvPerKwp(kw_per_kwp, trafo, kwp).homes_sum_kw(code, some),
                                   pv_home[code][:, some].sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(home_power.homes_sum_kw(code, some), p[code][:, some].sum(axis=1), rtol=1e-6)
        # PV and q matter here: without them the result is another one
        without = solver.solve_block(p, {c: 0 * q_home[c] for c in codes}, {c: 0 * pv_home[c] for c in codes},
                                     extra, mv_power(1), T)
        assert np.abs(without.trafo_loading_pct - reference.trafo_loading_pct).max() > 1.0


def _runpp_lv(net, load_p_mw, load_q_mvar, sgen_p_mw):
    work = copy.deepcopy(net)
    out = []
    for k in range(load_p_mw.shape[0]):
        work.load["p_mw"] = load_p_mw[k]
        work.load["q_mvar"] = load_q_mvar[k]
        work.sgen["p_mw"] = sgen_p_mw[k]
        pp.runpp(work)
        out.append((work.res_bus.vm_pu.to_numpy().copy(), work.res_line.loading_percent.to_numpy().copy(),
                    float(work.res_trafo.loading_percent.iloc[0]), float(work.res_ext_grid.p_mw.sum()),
                    float(work.res_ext_grid.q_mvar.sum())))
    return out


def test_each_generated_lv_grid_matches_runpp(city):
    """The LV solve of CitySolver (MultiNetLoadFlow, slack at 1.0 p.u.) against runpp, grid by grid."""
    grid, home_ids, extra_ids = city
    codes = list(grid.lv_grids)
    solver = CitySolver(grid, codes, home_ids, extra_ids, ["field"], (0.9, 1.1))
    p, q, pv, extra = injections(home_ids, extra_ids)
    # element powers of every grid, from the plan's column maps (independent of the merged matrices)
    pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], 1))], axis=1)  # noqa: E731
    all_lines = MultiNetLoadFlow([pl.grid.net for pl in solver.plans],
                                 line_select=[pl.grid.net.line.index for pl in solver.plans])
    element = []
    for pl in solver.plans:
        c = pl.wijk_code
        lp = (pad(p[c])[:, pl.load_home_column] + pad(extra[c])[:, pl.load_extra_column]) / 1000.0
        lq = pad(q[c])[:, pl.load_home_column] / 1000.0
        sp = pad(pv[c])[:, pl.sgen_home_column] / 1000.0
        element.append((lp, lq, sp))
    lp, lq, sp = (np.hstack([e[i] for e in element]) for i in range(3))
    s_mva = all_lines.c_sgen @ sp.T - all_lines.c_load @ (lp + 1j * lq).T
    ours = all_lines.solve(s_mva)
    city_block = solver.solve_block(p, q, pv, extra, mv_power(1), T)
    bus0 = line0 = feeder0 = 0
    for k, pl in enumerate(solver.plans):
        net = pl.grid.net
        ref = _runpp_lv(net, *element[k])
        nb, nl, nf = len(net.bus), len(net.line), len(pl.feeder_head_positions)
        for t, (vm, loading, trafo, p_eg, q_eg) in enumerate(ref):
            np.testing.assert_allclose(ours.vm_pu[bus0:bus0 + nb, t], vm, rtol=0, atol=VM_TOL_PU)
            np.testing.assert_allclose(ours.line_loading_pct[t, line0:line0 + nl], loading, rtol=0,
                                       atol=LOADING_TOL_PCT)
            assert abs(ours.trafo_loading_pct[t, k] - trafo) <= LOADING_TOL_PCT
            assert abs(ours.ext_grid_p_mw[t, k] - p_eg) <= 1e-6 and abs(ours.ext_grid_q_mvar[t, k] - q_eg) <= 1e-6
            # what the city run reports for this grid (loadings are those of the standalone LV solve)
            assert abs(city_block.trafo_loading_pct[t, k] - trafo) <= LOADING_TOL_PCT
            np.testing.assert_allclose(city_block.feeder_loading_pct[t, feeder0:feeder0 + nf],
                                       loading[pl.feeder_head_positions], rtol=0, atol=LOADING_TOL_PCT)
        bus0, line0, feeder0 = bus0 + nb, line0 + nl, feeder0 + nf


def test_mv_network_with_mv_loads_matches_runpp(city):
    """The MV solve, fed by the LV grids' infeed and an MV charging hub, against runpp on the MV net.

    The substations' loads in the reference are the LV grids' slack infeed from
    runpp (independent of the batched LV solve); the hub draws 0-3 MW.
    """
    grid, home_ids, extra_ids = city
    codes = list(grid.lv_grids)
    solver = CitySolver(grid, codes, home_ids, extra_ids, ["field"], (0.9, 1.1), mv_load_ids=["hub"])
    p, q, pv, extra = injections(home_ids, extra_ids)
    hub_mw = np.linspace(0.0, 3.0, N_STEP)[:, None]
    ours = solver.solve_block(p, q, pv, extra, mv_power(1), T, mv_load_p_mw=hub_mw)
    without = solver.solve_block(p, q, pv, extra, mv_power(1), T)

    pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], 1))], axis=1)  # noqa: E731
    infeed = []
    for pl in solver.plans:
        c = pl.wijk_code
        lp = (pad(p[c])[:, pl.load_home_column] + pad(extra[c])[:, pl.load_extra_column]) / 1000.0
        infeed.append(_runpp_lv(pl.grid.net, lp, pad(q[c])[:, pl.load_home_column] / 1000.0,
                                pad(pv[c])[:, pl.sgen_home_column] / 1000.0))
    mv = copy.deepcopy(grid.mv.net)
    subs = grid.mv.substations.set_index("substation_id")
    conns = grid.mv.connections.set_index("connection_id")
    for t in range(N_STEP):
        for k, pl in enumerate(solver.plans):
            load = int(subs.at[pl.grid.name, "load"])
            mv.load.at[load, "p_mw"], mv.load.at[load, "q_mvar"] = infeed[k][t][3], infeed[k][t][4]
        mv.load.at[int(conns.at["hub", "element_index"]), "p_mw"] = hub_mw[t, 0]
        mv.sgen.at[int(conns.at["field", "element_index"]), "p_mw"] = mv_power(1)[t, 0]
        pp.runpp(mv)
        lines = mv.res_line.loading_percent.loc[solver.mv_solver.line_index].to_numpy()
        trafos = mv.res_trafo.loading_percent.loc[solver.mv_solver.trafo_index].to_numpy()
        np.testing.assert_allclose(ours.mv_line_loading_pct[t], lines, rtol=0, atol=LOADING_TOL_PCT)
        np.testing.assert_allclose(ours.station_trafo_loading_pct[t], trafos, rtol=0, atol=LOADING_TOL_PCT)
    # the hub's 3 MW shows: at the last step the station (2 x 63 MVA) turns from exporting ~0.95 MVA
    # (solar field at 1.6 MW) to importing ~2 MVA, so its loading rises by more than 0.5 pct-pt
    assert ours.station_trafo_loading_pct[-1].sum() > without.station_trafo_loading_pct[-1].sum() + 0.5


def combined_net(grid):
    """One pandapower net: the MV net with every LV grid hanging on its substation bus
    (the LV trafo's HV side on the MV bus, no LV ext_grid, no aggregated substation load)."""
    plans = [g for grids in grid.lv_grids.values() for g in grids]
    net, off = merge_disjoint_nets([grid.mv.net] + [g.net for g in plans])
    subs = grid.mv.substations.set_index("substation_id")
    drop_bus, drop_eg = [], []
    for k, g in enumerate(plans, start=1):
        mv_sub_bus = int(subs.at[g.name, "bus"])  # MV net is first: its indices are unchanged
        own_mv_bus = off["bus"][k] + g.net.bus.index.get_loc(g.mv_bus)
        trafo = off["trafo"][k] + g.net.trafo.index.get_loc(g.trafo)
        net.trafo.loc[trafo, "hv_bus"] = mv_sub_bus
        drop_bus.append(own_mv_bus)
        drop_eg += list(range(off["ext_grid"][k], off["ext_grid"][k + 1]))
        net.load.loc[grid.mv.net.load.index.get_loc(int(subs.at[g.name, "load"])), "in_service"] = False
    net.ext_grid = net.ext_grid.drop(index=drop_eg)
    net.bus = net.bus.drop(index=drop_bus)
    return net, off, plans


@pytest.mark.slow
def test_hierarchy_against_one_combined_runpp(city):
    """Coupling error of the LV -> MV hierarchy against the exact combined load flow.

    Physics of the bound: the hierarchy solves each LV grid with its MV side
    at 1.0 p.u. and scales the voltages by the MV voltage ``a`` found at the
    substation. With constant-power loads the scaled state is the exact state
    for loads ``a^2`` times the real ones (``Y (a v) = conj(a^2 s / (a v))``),
    so LV currents are off by the factor ``a`` against the exact ``1/a``
    (first order: ``|Δloading| <= loading |1 - a| / a``) and the LV voltage
    drop ``d`` is off by ``~d |1/a^2 - 1| <= 2 d |1 - a| / a^2``. ``a`` is taken
    from the combined runpp (independent of the code under test); a margin
    of 1.5 covers second-order terms (MV losses seen at 1.0 p.u.).
    """
    grid, home_ids, extra_ids = city
    codes = list(grid.lv_grids)
    solver = CitySolver(grid, codes, home_ids, extra_ids, ["field"], (0.9, 1.1))
    p, q, pv, extra = injections(home_ids, extra_ids)
    mv_p = mv_power(1)
    ours = solver.solve_block(p, q, pv, extra, mv_p, T)

    net, off, plans = combined_net(grid)
    pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], 1))], axis=1)  # noqa: E731
    mv_field = grid.mv.connections.set_index("connection_id").at["field", "element_index"]
    n_plan = len(plans)
    vm_lv, trafo_ld, feeder_ld, a_sub = [], np.empty((N_STEP, n_plan)), [], np.empty((N_STEP, n_plan))
    subs = grid.mv.substations.set_index("substation_id")
    for t in range(N_STEP):
        for k, pl in enumerate(solver.plans, start=1):
            c = pl.wijk_code
            sl = slice(off["load"][k], off["load"][k + 1])
            net.load.loc[net.load.index[sl], "p_mw"] = (pad(p[c])[t, pl.load_home_column]
                                                       + pad(extra[c])[t, pl.load_extra_column]) / 1000.0
            net.load.loc[net.load.index[sl], "q_mvar"] = pad(q[c])[t, pl.load_home_column] / 1000.0
            ss = slice(off["sgen"][k], off["sgen"][k + 1])
            net.sgen.loc[net.sgen.index[ss], "p_mw"] = pad(pv[c])[t, pl.sgen_home_column] / 1000.0
        net.sgen.loc[grid.mv.net.sgen.index.get_loc(mv_field), "p_mw"] = mv_p[t, 0]
        pp.runpp(net)
        step_vm, step_feeder = [], []
        for k, pl in enumerate(solver.plans, start=1):
            g = pl.grid
            lv_bus = off["bus"][k] + pl.lv_bus_positions
            step_vm.append(net.res_bus.vm_pu.loc[net.bus.index.intersection(lv_bus)].reindex(lv_bus).to_numpy())
            trafo_ld[t, k - 1] = net.res_trafo.loading_percent.at[off["trafo"][k] + g.net.trafo.index.get_loc(g.trafo)]
            step_feeder.append(net.res_line.loading_percent.to_numpy()[off["line"][k] + pl.feeder_head_positions])
            a_sub[t, k - 1] = net.res_bus.vm_pu.at[int(subs.at[g.name, "bus"])]
        vm_lv.append(np.concatenate(step_vm))
        feeder_ld.append(np.concatenate(step_feeder))
    vm_lv = np.array(vm_lv)  # [n_step, n_lv_bus]
    feeder_ld = np.array(feeder_ld)

    dvm_bus = max(np.abs(ours.bus_vm_min_pu - vm_lv.min(axis=0)).max(),
                  np.abs(ours.bus_vm_max_pu - vm_lv.max(axis=0)).max())
    dtrafo = np.abs(ours.trafo_loading_pct - trafo_ld).max()
    dfeeder = np.abs(ours.feeder_loading_pct - feeder_ld).max()
    a_min, a_dev = a_sub.min(), np.abs(1.0 - a_sub).max()
    # largest LV voltage drop below its substation [p.u.] (positions of the buses per grid)
    drop_max = np.max(np.repeat(a_sub, solver.lv_bus_count, axis=1) - vm_lv)
    vm_bound = 1.5 * 2 * drop_max * a_dev / a_min**2 + 1e-6
    loading_bound = 1.5 * max(trafo_ld.max(), feeder_ld.max()) * a_dev / a_min + LOADING_TOL_PCT
    print(f"\nhierarchy coupling error over {N_STEP} steps, {n_plan} LV grids: MV voltage at substations "
          f"{a_sub.min():.4f}-{a_sub.max():.4f} p.u.; max |Δvm| LV = {dvm_bus:.2e} p.u. (bound {vm_bound:.2e}); "
          f"max |Δloading| trafo {dtrafo:.3f}, feeder {dfeeder:.3f} pct-pt (bound {loading_bound:.3f})")
    assert a_dev > 1e-3  # the MV voltage is off 1.0 p.u., so the bound is not trivially about a = 1
    assert dvm_bus <= vm_bound
    assert max(dtrafo, dfeeder) <= loading_bound


def _element_powers(solver, p, q, pv, extra):
    """Per LV grid, (load p, load q, sgen p) [MW] from the plans' column maps (not the merged matrices)."""
    pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], 1))], axis=1)  # noqa: E731
    out = []
    for pl in solver.plans:
        c = pl.wijk_code
        out.append(((pad(p[c])[:, pl.load_home_column] + pad(extra[c])[:, pl.load_extra_column]) / 1000.0,
                    pad(q[c])[:, pl.load_home_column] / 1000.0, pad(pv[c])[:, pl.sgen_home_column] / 1000.0))
    return out


def test_voltage_collapse_in_one_grid_is_flagged_and_the_rest_stays_exact(city):
    """Grid 0 loaded beyond the nose of its PV curve at two steps: runpp fails there too (independent
    confirmation); only those grid-steps are flagged and NaN, everything else still matches runpp."""
    grid, home_ids, extra_ids = city
    codes = list(grid.lv_grids)
    solver = CitySolver(grid, codes, home_ids, extra_ids, ["field"], (0.9, 1.1))
    p, q, pv, extra = injections(home_ids, extra_ids)
    first = solver.plans[0]
    cols = first.load_home_column[first.load_home_column >= 0]  # the homes of grid 0 only
    for arrays in (p, q):
        arrays[first.wijk_code] = arrays[first.wijk_code].copy()
        arrays[first.wijk_code][np.ix_([2, 5], cols)] *= 40.0
    lv = MultiNetLoadFlow([pl.grid.net for pl in solver.plans],
                          line_select=[pl.grid.net.line.index for pl in solver.plans])
    element = _element_powers(solver, p, q, pv, extra)
    lp, lq, sp = (np.hstack([e[i] for e in element]) for i in range(3))
    ours = lv.solve(lv.c_sgen @ sp.T - lv.c_load @ (lp + 1j * lq).T)
    expected_bad = np.zeros((len(solver.plans), N_STEP), bool)
    bus0 = line0 = 0
    for k, pl in enumerate(solver.plans):
        net = pl.grid.net
        ref = run_pandapower_reference(net, *element[k])
        expected_bad[k] = ~ref.converged
        ok = ref.converged
        nb, nl = len(net.bus), len(net.line)
        np.testing.assert_allclose(ours.vm_pu[bus0:bus0 + nb, ok], ref.vm_pu[ok].T, rtol=0, atol=VM_TOL_PU)
        np.testing.assert_allclose(ours.line_loading_pct[ok, line0:line0 + nl], ref.line_loading_pct[ok], rtol=0,
                                   atol=LOADING_TOL_PCT)
        np.testing.assert_allclose(ours.trafo_loading_pct[ok, k], ref.trafo_loading_pct[ok, 0], rtol=0,
                                   atol=LOADING_TOL_PCT)
        assert np.isnan(ours.vm_pu[bus0:bus0 + nb, ~ok]).all() and np.isnan(ours.trafo_loading_pct[~ok, k]).all()
        assert np.isnan(ours.ext_grid_p_mw[~ok, k]).all()
        bus0, line0 = bus0 + nb, line0 + nl
    assert expected_bad.sum() == 2 and expected_bad[0, [2, 5]].all()
    np.testing.assert_array_equal(~ours.converged, expected_bad)
    assert (ours.max_mismatch_mva[expected_bad] > 1e-3).all()
    assert set(ours.max_mismatch_bus[expected_bad]) <= set(first.grid.net.bus.index)
    messages = solver.solve_block(p, q, pv, extra, mv_power(1), T).not_converged
    assert len(messages) == 2 and messages[0].startswith(f"{first.grid.name}: load flow did not converge at step 2")


def test_a_step_does_not_depend_on_the_steps_solved_with_it(city):
    """Steps that converge after different numbers of iterations (and one that collapses) give the
    same bits whether solved alone, in small chunks or all together."""
    grid, home_ids, extra_ids = city
    nets = [g.net for gs in grid.lv_grids.values() for g in gs]
    rng = np.random.default_rng(11)
    lv = MultiNetLoadFlow(nets)
    n_load = lv.c_load.shape[1]
    scale = np.array([0.1, 1.0, 3.0, 0.5, 40.0, 2.0, 0.0, 1.5])  # 40x: collapse in every grid
    load = rng.uniform(0.0, 2.5e-3, (n_load, N_STEP)) * scale
    s_mva = -(lv.c_load @ (load * (1 + 0.25j)))
    together = lv.solve(s_mva)
    assert len(np.unique(together.iterations[:, scale < 10])) > 1  # steps finish at different iterations
    assert not together.converged[:, scale == 40.0].any()
    for chunk in (1, 3):
        part = MultiNetLoadFlow(nets, chunk_steps=chunk).solve(s_mva)
        for name in ("vm_pu", "trafo_loading_pct", "ext_grid_p_mw", "ext_grid_q_mvar", "converged", "iterations"):
            np.testing.assert_array_equal(getattr(part, name), getattr(together, name), err_msg=name)
    alone = lv.solve(s_mva[:, [3]])
    np.testing.assert_array_equal(alone.vm_pu[:, 0], together.vm_pu[:, 3])


def test_voltage_extremes_skip_nan_as_numpy():
    """The compiled reduction of solve_block against numpy's fmin/fmax on a small hand-made case."""
    vm = np.array([[1.00, 0.95, np.nan, 1.02],
                   [0.90, np.nan, np.nan, 0.99],
                   [np.nan, np.nan, np.nan, np.nan],
                   [1.05, 1.06, np.nan, 1.04]])
    bus_ptr = np.array([0, 2, 4])
    scale = np.array([[1.0, 1.0, 1.0, 1.0], [1.04, 1.05, 1.0, 1.06]])  # MV voltage per grid and step
    u = vm * np.repeat(scale, np.diff(bus_ptr), axis=0)
    bus_min, bus_max, violations, grid_min, grid_max = _voltage_extremes(vm, bus_ptr, scale, 0.92, 1.10)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(bus_min, np.fmin.reduce(u, axis=1))
        np.testing.assert_array_equal(bus_max, np.fmax.reduce(u, axis=1))
        np.testing.assert_array_equal(grid_min, np.array([np.fmin.reduce(u[0:2]), np.fmin.reduce(u[2:4])]))
        np.testing.assert_array_equal(grid_max, np.array([np.fmax.reduce(u[0:2]), np.fmax.reduce(u[2:4])]))
    # by hand: bus 1 is below 0.92 once (0.90); bus 3 above 1.10 at steps 1 and 3 (1.113, 1.1024)
    np.testing.assert_array_equal(violations, [0, 1, 0, 2])
    assert np.isnan(bus_min[2]) and np.isnan(grid_min[0, 2]) and np.isnan(grid_max[1, 2])


def test_float32_profiles_are_read_as_they_are(city):
    """The engine's household profiles are float32; they enter the solve without a copy and give
    exactly the result of the same values as float64."""
    grid, home_ids, extra_ids = city
    solver = CitySolver(grid, list(grid.lv_grids), home_ids, extra_ids, ["field"], (0.9, 1.1))
    p, q, pv, extra = injections(home_ids, extra_ids)
    p32 = {c: a.astype(np.float32) for c, a in p.items()}
    q32 = {c: a.astype(np.float32) for c, a in q.items()}
    a = solver.solve_block(p32, q32, pv, extra, mv_power(1), T)
    b = solver.solve_block({c: x.astype(np.float64) for c, x in p32.items()},
                           {c: x.astype(np.float64) for c, x in q32.items()}, pv, extra, mv_power(1), T)
    for name in ("trafo_loading_pct", "feeder_loading_pct", "bus_vm_min_pu", "bus_vm_max_pu", "wijk_vm_min_pu"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    # and float32 rounding of the loads is visible (the check above is not about identical inputs)
    c = solver.solve_block(p, q, pv, extra, mv_power(1), T)
    assert not np.array_equal(a.bus_vm_min_pu, c.bus_vm_min_pu)

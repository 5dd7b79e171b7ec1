"""Congestion manager on a generated LV grid: an EV overload seen one day is capped the next.

Set-up (all numbers chosen for hand checks): the 60-home LV grid of
``build_lv_grid(60, rng=default_rng(1))`` with its 0.4 MVA transformer; every
home draws 0.5 kW all day and has an EV (one vehicle class: 60 kWh, 11 kW) that
plugs in at 18:00 every day for 12 h wanting 20 kWh. Uncontrolled, the 60 EVs
draw 60 x 11 = 660 kW from 18:00 until 20 / 11 h = 1.818 h later, about 1.7x
the transformer rating. The manager has nothing to go on for day 0, plans
day 1 from day 0 (persistence forecast) and caps it.
"""

import numpy as np
import pytest

from energy_sim.events import ChargingPolicy, EvSimulation
from energy_sim.events.fleet import Fleet, VehicleClass
from energy_sim.events.sessions import ArrivalMixture, SessionKind, SessionProfile
from energy_sim.grid.build import build_lv_grid
from energy_sim.grid.loadflow import BatchedLoadFlow

DT_S = 900.0
N_STEP = 96
N_HOME = 60
BASE_KW = 0.5
E_SESSION_KWH = 20.0
P_EV_KW = 11.0

FIXED_EVENING = SessionProfile(
    kind=SessionKind.home, arrival=ArrivalMixture((1.0,), (18.0,), (1e-12,)),
    duration_median_h=12.0, duration_sigma=0.0, energy_median_kwh=E_SESSION_KWH, energy_sigma=0.0,
    sessions_per_day=1.0,
)
ONE_CLASS = Fleet((VehicleClass("test", 60.0, P_EV_KW, 1.0),))


@pytest.fixture(scope="module")
def grid():
    lv = build_lv_grid(N_HOME, rng=np.random.default_rng(1))
    homes = lv.connections[lv.connections.kind == "household"]
    # column of each home's load in net.load order
    load_pos = lv.net.load.index.get_indexer(homes.element_index.to_numpy())
    return lv, BatchedLoadFlow(lv.net), load_pos


def _loading(grid, base_kw, ev_kw):
    lv, lf, load_pos = grid
    p_mw = np.zeros((len(base_kw), len(lv.net.load)))
    p_mw[:, load_pos] = (base_kw + ev_kw) / 1000.0
    res = lf.solve(p_mw, np.zeros_like(p_mw), np.zeros((len(base_kw), len(lv.net.sgen))))
    assert res.converged.all()
    return res.trafo_loading_pct


def _run(grid, managed: bool, n_days: int = 3):
    base_kw = np.full((N_STEP, N_HOME), BASE_KW)
    solve = (lambda forecast, ev_kw: _loading(grid, forecast, ev_kw)) if managed else None
    sim = EvSimulation(np.arange(n_days + 1) * 86_400.0, np.zeros(N_HOME, dtype=int), [], ["trafo"],
                       np.random.default_rng(5), policy=ChargingPolicy.smart, fleet=ONE_CLASS,
                       home_profile=FIXED_EVENING, solve=solve, element_group=np.array([0]),
                       n_step_block=N_STEP, dt_s=DT_S)
    blocks = []
    for day in range(n_days):
        block = sim.step_block(day * 86_400.0, N_STEP, DT_S)
        blocks.append(block)
        sim.observe(base_kw)  # what the engine knew at the end of the day: its base load
    return sim, blocks, base_kw


def test_unmanaged_evs_overload_the_transformer(grid):
    _, blocks, base_kw = _run(grid, managed=False, n_days=1)
    # 18:00 is step 72: all 60 EVs at 11 kW
    np.testing.assert_allclose(blocks[0].home_kw[72], P_EV_KW)
    assert _loading(grid, base_kw, blocks[0].home_kw).max() > 150.0


def test_manager_caps_the_next_day_and_conserves_energy(grid):
    sim, blocks, base_kw = _run(grid, managed=True)
    day0, day1 = blocks[0], blocks[1]
    # no peeking: nothing known before day 0, so day 0 runs uncapped and overloads
    assert day0.caps_kw is None
    assert _loading(grid, base_kw, day0.home_kw).max() > 150.0
    # day 1 is capped from day 0's observation and stays within the rating
    assert day1.caps_kw is not None
    assert _loading(grid, base_kw, day1.home_kw).max() <= 100.5
    log = sim.report().interventions
    assert len(log) == 2  # day 1 and day 2, one transformer each
    first = log.iloc[0]
    assert first.element == "trafo" and first.measure == "smart_charging"
    assert first.time_s == 86_400.0 and first.forecast_loading_pct > 150.0

    # hand counterfactual for day 1: 660 kW from 18:00 for 20/11 h
    t0 = 86_400.0 + DT_S * np.arange(N_STEP)
    on_s = 18 * 3600.0 + 86_400.0
    off_s = on_s + E_SESSION_KWH / P_EV_KW * 3600.0
    overlap = np.clip(np.minimum(t0 + DT_S, off_s) - np.maximum(t0, on_s), 0.0, DT_S) / DT_S
    uncontrolled_kw = N_HOME * P_EV_KW * overlap
    managed_kw = day1.home_kw.sum(axis=1)
    held_back_kwh = np.maximum(uncontrolled_kw - managed_kw, 0.0).sum() * DT_S / 3600.0
    delivered_later_kwh = np.maximum(managed_kw - uncontrolled_kw, 0.0).sum() * DT_S / 3600.0
    assert held_back_kwh > 100.0
    assert first.energy_shifted_kwh == pytest.approx(held_back_kwh, rel=1e-9)
    # what was held back at the peak was delivered later the same evening
    assert delivered_later_kwh == pytest.approx(held_back_kwh, rel=1e-9)
    assert managed_kw.sum() * DT_S / 3600.0 == pytest.approx(N_HOME * E_SESSION_KWH, rel=1e-9)

    totals = sim.report().energy_by_group.loc["trafo"]
    assert totals.undelivered_kwh == pytest.approx(0.0, abs=1e-6)
    assert totals.delivered_kwh == pytest.approx(totals.requested_kwh)


# --- flexible (non-firm) connection of a bus depot on an MV cable -----------------------------------------
#
# A 10 kV cable (NA2XS2Y 1x95 RM/25 12/20 kV: 252 A, 4.36 MVA at 10 kV) feeds a firm 2 MW load and a depot of
# 20 buses on 150 kW chargers that all return at 22:30 wanting 276 kWh each (5,520 kWh). Uncontrolled the
# depot draws 3 MW for 1.84 h: 5 MW on the cable, ~115 %. With a non-firm connection the manager caps the
# depot so that the cable stays at 100 %; the night (7 h) is long enough to deliver everything.

N_BUS = 20
FIRM_MW = 2.0


@pytest.fixture(scope="module")
def mv_cable():
    import pandapower as pp

    net = pp.create_empty_network()
    b0, b1 = pp.create_bus(net, 10.0), pp.create_bus(net, 10.0)
    pp.create_ext_grid(net, b0)
    pp.create_line(net, b0, b1, 2.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, b1, p_mw=0.0)
    return BatchedLoadFlow(net)


def _depot_run(mv_cable, measures, n_days=4):
    from energy_sim.events.sessions import DepotTimetable
    from energy_sim.events.simulation import DepotSpec
    from energy_sim.scenario.schema import Measure

    timetable = DepotTimetable(arrival_sd_h=0.0, departure_sd_h=0.0, km_per_day_sd=0.0)

    def line_loading(forecast, ev_kw):
        p_mw = FIRM_MW + ev_kw.sum(axis=1, keepdims=True) / 1000.0
        res = mv_cable.solve(p_mw, np.zeros_like(p_mw), np.zeros((len(p_mw), 0)))
        return res.line_loading_pct

    sim = EvSimulation(np.arange(n_days + 1) * 86_400.0, np.zeros(0, dtype=int), [], ["depot"],
                       np.random.default_rng(1), policy=ChargingPolicy.smart, solve=line_loading,
                       element_group=np.array([-1]), shared_elements=(np.array([0]), np.array([0])),
                       group_measure=[Measure.flexible_connections], measures=measures,
                       depots=[DepotSpec("depot", 0, N_BUS, 150.0, timetable)], n_step_block=N_STEP, dt_s=DT_S)
    loading = []
    for day in range(n_days):
        block = sim.step_block(day * 86_400.0, N_STEP, DT_S)
        loading.append(line_loading(None, block.public_kw)[:, 0])
        sim.observe("the block that ended")  # the solve needs nothing else from the engine
    return sim, np.array(loading)


def test_flexible_connection_caps_the_depot_to_the_cable_rating(mv_cable):
    sim, loading = _depot_run(mv_cable, ["smart_charging", "flexible_connections"])
    assert loading[0].max() > 110.0  # day 0: nothing known yet, uncontrolled
    # day 1 still carries night 0's uncapped tail after midnight (unseen by day 0's forecast); from day 2 on
    # every step of the night is forecast and capped
    assert loading[2:].max() <= 100.5
    log = sim.report().interventions
    assert set(log.measure) == {"flexible_connections"} and set(log.element) == {"depot"}
    assert (log.energy_shifted_kwh > 0).all()
    totals = sim.report().energy_by_group.loc["depot"]
    assert totals.undelivered_kwh == pytest.approx(0.0, abs=1e-6)
    assert totals.requested_kwh == pytest.approx(N_BUS * 230 * 1.2 * 3, rel=1e-9)  # three finished nights


def test_a_measure_the_scenario_does_not_allow_is_not_applied(mv_cable):
    sim, loading = _depot_run(mv_cable, ["smart_charging"])
    assert loading[2:].max() > 110.0
    assert len(sim.report().interventions) == 0

"""Manager measures beyond smart charging: heat-pump flexibility (deferral by hand, caps on an overloaded
transformer) and rooftop-PV curtailment."""

import numpy as np
import pytest

from energy_sim.events import ChargingPolicy, EvSimulation
from energy_sim.events.heat_pump_flex import HeatPumpDeferral
from energy_sim.grid.build import build_lv_grid
from energy_sim.grid.loadflow import BatchedLoadFlow

INF = np.inf


def test_deferral_by_hand():
    """10 kW of heat pumps, 15-min steps, at most 50 % held back or added back:
    holding back 4 kW at step 1 (1 kWh) is paid back at step 2 (+4 kW: 14 kW); with a rebound cap of 11 kW
    at step 2 only 1 kW (0.25 kWh) goes back there and the remaining 0.75 kWh at step 3 (+3 kW)."""
    hold = np.array([[0.0], [4.0], [0.0], [0.0]])
    d = HeatPumpDeferral(1, 0.25)
    out = d.apply(np.full((4, 1), 10.0), hold)
    np.testing.assert_allclose(out[:, 0], [10, 6, 14, 10])
    d = HeatPumpDeferral(1, 0.25)
    out = d.apply(np.full((4, 1), 10.0), hold, np.array([[INF], [INF], [11.0], [INF]]))
    np.testing.assert_allclose(out[:, 0], [10, 6, 11, 13])
    assert out.sum() == pytest.approx(40.0) and d.deferred_kwh[0] == pytest.approx(0.0)
    # never more than half held back; what is not yet paid back is carried to the next block
    d = HeatPumpDeferral(1, 0.25)
    out = d.apply(np.full((2, 1), 10.0), np.array([[8.0], [8.0]]))
    np.testing.assert_allclose(out[:, 0], [5, 5])
    assert d.deferred_kwh[0] == pytest.approx(2.5) and d.held_back_kwh[0] == pytest.approx(2.5)
    # a block without a rebound limit of its own pays carried-over energy back over >= 3 h: 2.5 kWh / 3 h
    np.testing.assert_allclose(d.apply(np.full((1, 1), 10.0), None)[:, 0], [10.0 + 2.5 / 3.0])


# 60 homes on the 0.4 MVA transformer of build_lv_grid(60, rng=default_rng(1)); 0.5 kW each all day and a
# heat pump drawing 7 kW from 17:00 to 21:00: 60 x 7.5 = 450 kW, ~115 % of the rating.
N_HOME, BASE_KW, HP_KW, N_STEP, DT_S = 60, 0.5, 7.0, 96, 900.0


@pytest.fixture(scope="module")
def grid():
    lv = build_lv_grid(N_HOME, rng=np.random.default_rng(1))
    homes = lv.connections[lv.connections.kind == "household"]
    return lv, BatchedLoadFlow(lv.net), lv.net.load.index.get_indexer(homes.element_index.to_numpy())


def _loading(grid, home_kw):
    lv, lf, load_pos = grid
    p_mw = np.zeros((len(home_kw), len(lv.net.load)))
    p_mw[:, load_pos] = home_kw / 1000.0
    res = lf.solve(p_mw, np.zeros_like(p_mw), np.zeros((len(home_kw), len(lv.net.sgen))))
    return res.trafo_loading_pct


def test_manager_caps_heat_pumps_and_the_rebound_stays_within_the_rating(grid):
    hour = np.arange(N_STEP) * DT_S / 3600.0
    hp_kw = np.where((hour >= 17) & (hour < 21), HP_KW, 0.0)[:, None] * np.ones((1, N_HOME))
    base_kw = np.full((N_STEP, N_HOME), BASE_KW)

    def solve(forecast, ev_kw, group_delta_kw=None):
        load = forecast + (0.0 if group_delta_kw is None else group_delta_kw[:, :1] / N_HOME)
        return _loading(grid, load)

    sim = EvSimulation(np.arange(4) * 86_400.0, np.zeros(0, dtype=int), [], ["trafo"], np.random.default_rng(2),
                       policy=ChargingPolicy.smart, solve=solve, element_group=np.array([0]),
                       heat_pump_groups=np.array([True]), measures=["smart_charging", "heat_pump_flexibility"],
                       n_step_block=N_STEP, dt_s=DT_S)
    deferral = HeatPumpDeferral(1, DT_S / 3600.0)
    loading, drawn = [], []
    for day in range(3):
        sim.step_block(day * 86_400.0, N_STEP, DT_S)
        manager = sim.manager
        group = deferral.apply(hp_kw.sum(axis=1, keepdims=True), manager.hp_hold_kw, manager.hp_rebound_caps_kw)
        held = deferral.held_back_kwh.copy()
        manager.record_heat_pumps(held - (drawn[-1][1] if drawn else 0.0))
        homes_kw = base_kw + hp_kw * (group / hp_kw.sum(axis=1, keepdims=True).clip(1e-12))
        loading.append(_loading(grid, homes_kw)[:, 0])
        drawn.append((group[:, 0], held))
        sim.observe(base_kw + hp_kw, hp_kw.sum(axis=1, keepdims=True))
    assert loading[0].max() > 110.0  # nothing known on day 0
    assert loading[1].max() <= 100.5 and loading[2].max() <= 100.5  # capped, and the rebound fits under the rating
    # heat-pump energy is conserved: held back in the evening, delivered later the same day
    for group, _ in drawn:
        assert group.sum() * DT_S / 3600.0 == pytest.approx(HP_KW * N_HOME * 4.0, rel=1e-9)
    log = sim.report().interventions
    assert set(log.measure) == {"heat_pump_flexibility"} and len(log) == 2
    assert (log.energy_shifted_kwh > 0).all()


def test_manager_curtails_rooftop_pv_that_overloads_the_transformer(grid):
    """The same 60 homes with 10 kWp each and 0.3 kW of load: a clear day gives up to 0.8 kW/kWp, i.e.
    ~462 kW back through the 0.4 MVA transformer (~115 %). From day 1 on the manager caps PV per kWp so
    that the transformer stays at its rating; the energy it curtails is what the cap took off."""
    hour = np.arange(N_STEP) * DT_S / 3600.0
    pv_per_kwp = np.clip(0.8 * np.cos((hour - 13.0) / 4.5 * np.pi / 2), 0.0, None)  # 08:30-17:30, peak 13:00
    kwp, base_kw = 10.0, 0.3

    def loading(pv):
        return _loading(grid, np.full((N_STEP, N_HOME), base_kw) - pv[:, None] * kwp * np.ones((1, N_HOME)))

    def solve(forecast, ev_kw, group_delta_kw=None, pv_kw_per_kwp=None):
        return loading(forecast if pv_kw_per_kwp is None else pv_kw_per_kwp[:, 0])

    sim = EvSimulation(np.arange(4) * 86_400.0, np.zeros(0, dtype=int), [], ["trafo"], np.random.default_rng(2),
                       solve=solve, element_group=np.array([0]), pv_groups=np.array([True]),
                       measures=["curtailment"], n_step_block=N_STEP, dt_s=DT_S)
    peaks, curtailed = [], []
    for day in range(3):
        sim.step_block(day * 86_400.0, N_STEP, DT_S)
        caps = sim.manager.pv_caps_kw_per_kwp
        pv = pv_per_kwp if caps is None else np.minimum(pv_per_kwp, caps[:, 0])
        e_kwh = (pv_per_kwp - pv).sum() * kwp * N_HOME * DT_S / 3600.0
        sim.manager.record_curtailment(np.array([e_kwh]))
        peaks.append(loading(pv).max())
        curtailed.append(e_kwh)
        sim.observe(pv_per_kwp, pv_kw_per_kwp=pv_per_kwp)
    assert peaks[0] > 110.0 and curtailed[0] == 0.0
    assert peaks[1] <= 100.5 and peaks[2] <= 100.5
    assert peaks[1] >= 99.0  # curtailed to the rating, not far below it
    log = sim.report().interventions
    assert set(log.measure) == {"curtailment"} and len(log) == 2
    np.testing.assert_allclose(log.energy_shifted_kwh, curtailed[1:])
    # only the sunny hours are curtailed: ~15 % of the day's ~2,000 kWh of PV at most
    assert 0.0 < curtailed[1] < 0.15 * pv_per_kwp.sum() * kwp * N_HOME * DT_S / 3600.0

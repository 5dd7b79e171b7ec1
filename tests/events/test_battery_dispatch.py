"""The congestion manager's battery_dispatch on a constructed LV case, numbers worked out by hand.

One 250 kVA MV/LV transformer feeds two homes whose net load over four
hourly steps is 100, 250, 300 and 150 kW (loading = net load / 250 kVA at
cos(phi) 1: 40, 100, 120, 60 %). A 100 kW / 200 kWh peak-shaving battery
(eta 0.95 each way, starting at 100 kWh) sits on the LV grid. In the first
24 h window its own rule knows no past and idles, so the transformer reaches
120 %. Instructed by the manager to hold the net load to 250 kW (target
100 %), it discharges 50 kW in step 3 only:

* grid: 100, 250, 250, 150 kW -> loading at most 100 %;
* stored energy: 100 - 50 / 0.95 = 47.368421... kWh;
* energy shaved (discharged while the measured load was above 250 kW): 50 kWh.
"""

import numpy as np
import pytest

from energy_sim.events.congestion import CongestionManager
from energy_sim.profiles.assets_in_runs import BatteriesInRun, _Battery
from energy_sim.profiles.storage import BatteryFleet, DispatchRule
from energy_sim.scenario.schema import Measure

NET_KW = np.array([100.0, 250.0, 300.0, 150.0])
TRAFO_KVA = 250.0
LIMIT_KW = 250.0  # target 100 % of 250 kVA at cos(phi) 1


def _batteries() -> BatteriesInRun:
    fleet = BatteryFleet(e_max_kwh=200.0, p_max_kw=100.0, soc_init_frac=0.5)
    battery = _Battery(name="buurtbatterij", wijk="W1", level="lv", rule=DispatchRule.peak_shaving, fleet=fleet,
                       active=np.ones(4, dtype=bool), home_columns=slice(0, 2), extra_columns=slice(0, 0),
                       own_column=0, grid="trafo 1")
    return BatteriesInRun([battery], ["W1"], dt_h=1.0)


def _dispatch(limit_kw):
    batteries = _batteries()
    home_p = {"W1": np.column_stack([NET_KW / 2, NET_KW / 2])}
    pv = {"W1": np.zeros((4, 2))}
    extra = {"W1": np.zeros((4, 1))}
    batteries.block(0, home_p, pv, extra, np.zeros((4, 1)), limit_kw)
    return batteries, extra["W1"][:, 0]


def _manager(measures):
    def solve(forecast, ev_kw, group_delta_kw=None, pv_kw_per_kwp=None):
        return ((forecast + ev_kw[:, 0]) / TRAFO_KVA * 100.0)[:, None]

    manager = CongestionManager(solve, [0], [0], ["trafo 1"], n_step=4, dt_s=3600.0, measures=measures,
                                battery_limit_kw=[LIMIT_KW])
    manager.observe(NET_KW, np.zeros((4, 1)))
    manager.decide(86_400.0)
    return manager


def test_own_rule_alone_leaves_the_transformer_overloaded():
    _, p_kw = _dispatch(None)
    np.testing.assert_array_equal(p_kw, 0.0)  # first window: nothing known, the battery idles
    assert (NET_KW + p_kw).max() / TRAFO_KVA * 100.0 == pytest.approx(120.0)


def test_instructed_battery_keeps_the_transformer_at_the_target_and_balances_its_energy():
    batteries, p_kw = _dispatch({"buurtbatterij": LIMIT_KW})
    np.testing.assert_allclose(p_kw, [0.0, 0.0, -50.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(NET_KW + p_kw, [100.0, 250.0, 250.0, 150.0], atol=1e-12)
    assert (NET_KW + p_kw).max() / TRAFO_KVA * 100.0 <= 100.0 + 1e-9
    b = batteries.batteries[0]
    assert b.e_kwh == pytest.approx(100.0 - 50.0 / 0.95, rel=1e-12)
    assert b.discharged_kwh == pytest.approx(50.0) and b.charged_kwh == 0.0
    assert batteries.shaved_kwh == {"buurtbatterij": pytest.approx(50.0)}


def test_own_threshold_below_the_limit_stays_in_charge():
    # a limit above the peak changes nothing: min(own threshold, limit) is the own one
    _, p_kw = _dispatch({"buurtbatterij": 400.0})
    np.testing.assert_array_equal(p_kw, 0.0)


def test_manager_instructs_the_battery_and_logs_the_energy_it_shaved():
    manager = _manager([Measure.battery_dispatch])
    np.testing.assert_array_equal(manager.battery_limits_kw, [LIMIT_KW])
    assert manager.caps_kw is None  # smart charging is not among the measures
    (item,) = manager.log
    assert item.measure is Measure.battery_dispatch and item.element == "trafo 1"
    assert item.forecast_loading_pct == pytest.approx(120.0)
    assert item.planned_loading_pct == pytest.approx(100.0)
    assert item.cap_min_kw == LIMIT_KW
    assert (item.window_start_s, item.window_end_s) == (86_400.0, 86_400.0 + 4 * 3600.0)
    batteries, _ = _dispatch({"buurtbatterij": float(manager.battery_limits_kw[0])})
    manager.record_battery(np.array([batteries.shaved_kwh["buurtbatterij"]]))
    assert item.energy_shifted_kwh == pytest.approx(50.0)


def test_no_instruction_without_the_measure_or_below_the_target():
    manager = _manager([Measure.smart_charging])
    assert manager.battery_limits_kw is None
    assert all(i.measure is not Measure.battery_dispatch for i in manager.log)

    def solve(forecast, ev_kw, group_delta_kw=None, pv_kw_per_kwp=None):
        return ((forecast + ev_kw[:, 0]) / TRAFO_KVA * 100.0)[:, None]

    calm = CongestionManager(solve, [0], [0], ["trafo 1"], n_step=4, dt_s=3600.0,
                             measures=[Measure.battery_dispatch], battery_limit_kw=[LIMIT_KW])
    calm.observe(np.minimum(NET_KW, 200.0), np.zeros((4, 1)))
    calm.decide(0.0)
    assert calm.battery_limits_kw is None and calm.log == []


def test_instructed_self_consumption_battery_keeps_its_energy_for_the_peak():
    fleet = BatteryFleet(e_max_kwh=200.0, p_max_kw=100.0, soc_init_frac=0.5)

    def run(limit_kw):
        battery = _Battery(name="thuis", wijk="W1", level="lv", rule=DispatchRule.self_consumption, fleet=fleet,
                           active=np.ones(4, dtype=bool), home_columns=slice(0, 2), extra_columns=slice(0, 0),
                           own_column=0, grid="trafo 1")
        batteries = BatteriesInRun([battery], ["W1"], dt_h=1.0)
        extra = {"W1": np.zeros((4, 1))}
        batteries.block(0, {"W1": np.column_stack([NET_KW / 2, NET_KW / 2])}, {"W1": np.zeros((4, 2))}, extra,
                        np.zeros((4, 1)), limit_kw)
        return batteries, extra["W1"][:, 0]

    # own rule: 95 kW in step 1 empties it (100 kWh x 0.95 at the AC side), the 300 kW peak goes through
    _, own = run(None)
    np.testing.assert_allclose(own, [-95.0, 0.0, 0.0, 0.0], atol=1e-9)
    assert (NET_KW + own).max() == pytest.approx(300.0)
    # instructed to 250 kW: charges 100 kW below the limit, shaves 50 kW at the peak, refills to full
    batteries, p_kw = run({"thuis": LIMIT_KW})
    e_after_peak = 100.0 + 0.95 * 100.0 - 50.0 / 0.95
    np.testing.assert_allclose(p_kw, [100.0, 0.0, -50.0, (200.0 - e_after_peak) / 0.95], atol=1e-9)
    assert (NET_KW + p_kw).max() == pytest.approx(LIMIT_KW)
    b = batteries.batteries[0]
    assert b.e_kwh == pytest.approx(200.0)
    # energy balance: stored change = eta_c x charged - discharged / eta_d
    assert b.e_kwh - 100.0 == pytest.approx(0.95 * b.charged_kwh - b.discharged_kwh / 0.95, rel=1e-12)
    assert batteries.shaved_kwh == {"thuis": pytest.approx(50.0)}

"""The congestion manager curtails MV solar fields and wind turbines: a constructed MV case by hand.

One HV/MV station of 10 MVA feeds a constant 2 MW load; a solar field and a
wind turbine feed in. Loading of the station = |2 - generation| / 10 x 100 %
(active power only, no losses: the hand model the solve below implements).
Two observed hourly blocks: the field gave 0, 8, 16, 10 MW (sunny) and
0, 4, 8, 5 MW (cloudy), the turbine 4 MW throughout. Envelope: the sunny day
plus 4 MW, i.e. 4, 12, 20, 14 MW -> 20, 100, 180, 120 %. With 60 % of it the
loading falls (steps 3 and 4: 100, 64 %), so steps 3 and 4 are congested by
feed-in. Equal shares f of each generator's peak (16 and 4 MW):

* step 3: 16 f + 4 f <= 12 MW          -> f <= 0.6
* step 4: min(10, 16 f) + 4 f <= 12 MW  -> f <= 0.6 as well (9.6 + 2.4)

so limits 9.6 MW (field) and 2.4 MW (turbine); on the sunny day again the
field loses 16 - 9.6 = 6.4 and 10 - 9.6 = 0.4 MWh, the turbine 4 x 1.6 MWh.
"""

import numpy as np
import pytest

from energy_sim.events.congestion import CongestionManager
from energy_sim.scenario.schema import Measure

FIELD_SUNNY_MW = np.array([0.0, 8.0, 16.0, 10.0])
FIELD_CLOUDY_MW = np.array([0.0, 4.0, 8.0, 5.0])
WIND_MW = np.full(4, 4.0)
TOL_F = 1.0 / 4096  # bisection resolution of the share


def _solve(forecast, ev_kw, group_delta_kw=None, pv_kw_per_kwp=None, mv_gen_mw=None):
    gen = forecast if mv_gen_mw is None else mv_gen_mw
    station = np.abs(2.0 - gen.sum(axis=1)) / 10.0 * 100.0
    trafo = np.full(len(gen), 50.0)  # an LV transformer, well within its rating
    return np.column_stack([trafo, station])


def _manager(measures):
    manager = CongestionManager(_solve, [0, -1], [0], ["trafo 1"], n_step=4, dt_s=3600.0, measures=measures,
                                mv_generator_names=["veld", "molen"], mv_elements=[1])
    for field in (FIELD_SUNNY_MW, FIELD_CLOUDY_MW):  # the cloudy day last: the envelope keeps the sunny one
        gen = np.column_stack([field, WIND_MW])
        manager.observe(gen, np.zeros((4, 1)), mv_gen_mw=gen)
    manager.decide(2 * 86_400.0)
    return manager


def test_feed_in_limits_keep_the_station_at_the_target():
    manager = _manager([Measure.curtailment])
    caps = manager.mv_gen_caps_mw
    np.testing.assert_allclose(caps, [9.6, 2.4], atol=20.0 * TOL_F)
    assert (caps <= [9.6, 2.4]).all()  # the bisection keeps the feasible side
    sunny = np.column_stack([FIELD_SUNNY_MW, WIND_MW])
    loading = _solve(None, None, mv_gen_mw=np.minimum(sunny, caps))[:, 1]
    assert loading.max() <= 100.0 + 1e-9
    assert loading.max() == pytest.approx(100.0, abs=20.0 * TOL_F / 10.0 * 100.0)


def test_curtailment_is_logged_per_generator_with_the_energy_lost():
    manager = _manager([Measure.curtailment])
    items = {i.element: i for i in manager.log}
    assert set(items) == {"veld", "molen"}
    for item in items.values():
        assert item.measure is Measure.curtailment
        assert item.forecast_loading_pct == pytest.approx(180.0)
        assert item.planned_loading_pct <= 100.0 + 1e-9
    assert items["veld"].cap_min_kw == pytest.approx(9600.0, abs=20_000.0 * TOL_F)
    # the engine's part: the sunny day comes again, generation is cut to the limits
    sunny = np.column_stack([FIELD_SUNNY_MW, WIND_MW])
    curtailed_kwh = (sunny - np.minimum(sunny, manager.mv_gen_caps_mw)).sum(axis=0) * 1000.0
    manager.record_mv_curtailment(curtailed_kwh)
    assert items["veld"].energy_shifted_kwh == pytest.approx(6800.0, abs=3 * 16_000.0 * TOL_F)
    assert items["molen"].energy_shifted_kwh == pytest.approx(6400.0, abs=4 * 4_000.0 * TOL_F)


def test_no_feed_in_limit_without_curtailment_or_without_feed_in_congestion():
    assert _manager([Measure.smart_charging]).mv_gen_caps_mw is None
    manager = CongestionManager(_solve, [0, -1], [0], ["trafo 1"], n_step=4, dt_s=3600.0,
                                measures=[Measure.curtailment], mv_generator_names=["veld", "molen"],
                                mv_elements=[1])
    gen = np.column_stack([FIELD_CLOUDY_MW, WIND_MW])  # at most 12 MW: 100 %, not above
    manager.observe(gen, np.zeros((4, 1)), mv_gen_mw=gen)
    manager.decide(86_400.0)
    assert manager.mv_gen_caps_mw is None and manager.log == []

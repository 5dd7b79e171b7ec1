"""OutageSchedule: step rule, energy not served and production lost by hand, seeded random outages."""

import numpy as np
import pandas as pd
import pytest

from energy_sim.events.outages import OutageGrid, schedule_outages, simulate_outages, steps_out
from energy_sim.scenario.schema import Outages

START = pd.Timestamp("2025-01-15 00:00", tz="UTC")
DT_S = 900.0
DAY_S = 86_400.0


@pytest.fixture()
def grid():
    """One ring: station - (cable 0) - A/MSR02 - (1) - A/MSR01 - (2, open point) - B/MSR01 - (3) - station;
    a 2-turbine wind asset (MV column 0) and a solar field (column 1)."""
    cables = pd.DataFrame({"line": [0, 1, 2, 3], "name": [f"ring00 section {i:02d}" for i in (1, 2, 3, 4)],
                           "ring": 0, "length_km": [0.4, 0.2, 1.5, 1.0],
                           "feeds": ["A/MSR02", "A/MSR01", "", "B/MSR01"], "wijk": ["A", "A", "A", "B"]})
    generators = pd.DataFrame({"name": ["molen", "veld"], "kind": ["wind_turbine", "solar_field"], "wijk": ["A", "B"],
                               "column": [0, 1], "n_units": [2, 1]})
    return OutageGrid(["A/MSR01", "A/MSR02", "B/MSR01"], ["A", "A", "B"], np.array([0, 0, 0]), cables, generators)


def planned(*items, random=None):
    return Outages.model_validate({"planned": list(items), "random": random or {}})


def test_a_step_is_out_when_the_outage_covers_its_midpoint():
    # steps of 900 s: midpoints 450, 1350, 2250, 3150; outage 400-2300 s covers the first three
    np.testing.assert_array_equal(steps_out(np.array([400.0]), np.array([2300.0]), 0.0, 4, DT_S)[:, 0],
                                  [True, True, True, False])
    # end is exclusive: an outage ending at a midpoint does not hold that step
    np.testing.assert_array_equal(steps_out(np.array([0.0]), np.array([1350.0]), 0.0, 3, DT_S)[:, 0],
                                  [True, False, False])


def test_block_state_of_a_cable_and_a_transformer(grid):
    s = schedule_outages(planned(
        {"kind": "mv_cable", "element": "A/MSR02", "start": "2025-01-15T01:00:00+00:00", "end": "2025-01-15T02:00:00+00:00"},
        {"kind": "mv_cable", "element": "B/MSR01", "start": "2025-01-15T01:30:00+00:00", "end": "2025-01-15T02:00:00+00:00",
         "restore": False},
        {"kind": "mv_lv_transformer", "element": "B/MSR01", "start": "2025-01-15T00:15:00+00:00",
         "end": "2025-01-15T00:45:00+00:00"},
    ), grid, START, DAY_S, "Europe/Amsterdam", np.random.default_rng(0))
    block = s.block(0.0, 8, DT_S)  # 00:00-02:00 UTC
    np.testing.assert_array_equal(block.lv_out[:, 2], [False, True, True, False, False, False, False, False])
    assert not block.lv_out[:, :2].any()
    lines_out = [sorted(a) for a, _ in block.mv_state]
    restored = [sorted(b) for _, b in block.mv_state]
    assert lines_out == [[]] * 4 + [[0]] * 2 + [[0, 3]] * 2
    assert restored == [[]] * 4 + [[0]] * 4  # cable 3 was planned without restoration
    assert s.changes_topology


def test_energy_not_served_goes_to_the_outage_that_caused_it(grid):
    """Trafo B/MSR01 out 00:00-00:30, cable into A/MSR02 out 00:00-01:00; made-up unserved power."""
    s = schedule_outages(planned(
        {"kind": "mv_lv_transformer", "element": "B/MSR01", "start": "2025-01-15T00:00:00+00:00",
         "end": "2025-01-15T00:30:00+00:00"},
        {"kind": "mv_cable", "element": "A/MSR02", "start": "2025-01-15T00:00:00+00:00",
         "end": "2025-01-15T01:00:00+00:00", "restore": False},
    ), grid, START, DAY_S, "Europe/Amsterdam", np.random.default_rng(0))
    block = s.block(0.0, 4, DT_S)
    unserved_mw = np.array([[0.2, 0.1, 0.3],   # A/MSR01 and A/MSR02 cut off by the cable, B/MSR01 by its trafo
                            [0.2, 0.1, 0.3],
                            [0.4, 0.2, 0.0],   # trafo back in service
                            [0.4, 0.2, 0.0]])
    s.record_unserved(block, unserved_mw, 0.25)
    table = s.table(START, DAY_S).set_index("kind")
    # cable: (0.2 + 0.1) * 2 + (0.4 + 0.2) * 2 steps of 0.25 h = 0.45 MWh; trafo: 0.3 * 2 * 0.25 = 0.15 MWh
    assert table.at["mv_cable", "energy_not_served_mwh"] == pytest.approx(0.45)
    assert table.at["mv_lv_transformer", "energy_not_served_mwh"] == pytest.approx(0.15)
    np.testing.assert_allclose(s.wijk_not_served_mwh(["A", "B"]), [0.45, 0.15])
    assert table.at["mv_cable", "element"] == "ring00 section 01"  # the cable feeding A/MSR02, by its grid name
    assert table.at["mv_cable", "wijk"] == "A"


def test_production_lost_by_hand(grid):
    """Wind asset of 2 turbines at 4 MW: the planned asset outage takes all of it, a random-like
    half-window of one turbine half of it for half a step."""
    s = schedule_outages(planned(
        {"kind": "wind_turbine", "element": "molen", "start": "2025-01-15T00:15:00+00:00",
         "end": "2025-01-15T00:30:00+00:00"},
        {"kind": "solar_field", "element": "veld", "start": "2025-01-15T00:00:00+00:00",
         "end": "2025-01-15T00:07:30+00:00"},
    ), grid, START, DAY_S, "Europe/Amsterdam", np.random.default_rng(0))
    power = np.array([[4.0, 2.0], [4.0, 2.0], [4.0, 2.0]])
    out = s.apply_to_generation(power, DT_S)
    np.testing.assert_allclose(out, [[4.0, 1.0], [0.0, 2.0], [4.0, 2.0]])
    table = s.table(START, DAY_S).set_index("element")
    assert table.at["molen", "production_lost_mwh"] == pytest.approx(4.0 * 0.25)
    assert table.at["veld", "production_lost_mwh"] == pytest.approx(1.0 * 0.25)
    assert power[1, 0] == 4.0  # the input is not modified


def test_planned_times_without_offset_are_in_the_horizon_time_zone(grid):
    s = schedule_outages(planned({"kind": "mv_lv_transformer", "element": "A/MSR01", "start": "2025-01-15T06:00:00",
                                  "end": "2025-01-15T07:00:00"}),
                         grid, START, DAY_S, "Europe/Amsterdam", np.random.default_rng(0))
    row = s.table(START, DAY_S).iloc[0]
    assert row.start_utc == pd.Timestamp("2025-01-15 05:00", tz="UTC")  # CET = UTC+1 in January
    assert row.end_utc == pd.Timestamp("2025-01-15 06:00", tz="UTC")


def test_nothing_to_apply_gives_none(grid):
    assert schedule_outages(Outages(), grid, START, DAY_S, "Europe/Amsterdam", np.random.default_rng(0)) is None


RANDOM = {"enabled": True, "mv_lv_transformer": {"failures_per_year": 40.0}, "wind_turbine": {"failures_per_year": 60.0},
          "mv_cable": {"failures_per_km_year": 30.0, "switching_h": 2.0}}


def test_random_outages_are_determined_by_the_seed(grid):
    year_s = 365 * DAY_S
    draw = lambda seed: schedule_outages(planned(random=RANDOM), grid, START, year_s, "Europe/Amsterdam",  # noqa: E731
                                         np.random.default_rng([seed, 9])).windows
    a, b, c = draw(1), draw(1), draw(2)
    pd.testing.assert_frame_equal(a, b)
    assert not a[["start_s", "end_s"]].equals(c[["start_s", "end_s"]])
    # every kind is drawn, with the cable's restoration after the switching time
    assert set(a.kind) == {"mv_lv_transformer", "wind_turbine", "mv_cable"}
    cables = a[a.kind == "mv_cable"]
    np.testing.assert_allclose(cables.restore_s - cables.start_s, 2.0 * 3600.0)
    # a turbine unit takes half of its 2-turbine asset
    np.testing.assert_allclose(a[a.kind == "wind_turbine"].share, 0.5)
    assert set(a[a.kind == "wind_turbine"].element) <= {"molen/1", "molen/2"}


def test_block_states_do_not_depend_on_the_block_length(grid):
    s = schedule_outages(planned(random=RANDOM), grid, START, 30 * DAY_S, "Europe/Amsterdam",
                         np.random.default_rng([3, 9]))
    n = 30 * 96

    def states(block_steps):
        lv, mv = [], []
        for i0 in range(0, n, block_steps):
            b = s.block(i0 * DT_S, min(block_steps, n - i0), DT_S)
            steps = min(block_steps, n - i0)
            lv.append(b.lv_out if b.lv_out is not None else np.zeros((steps, 3), bool))
            mv += b.mv_state if b.mv_state is not None else [(frozenset(), frozenset())] * steps
        return np.vstack(lv), mv

    lv_day, mv_day = states(96)
    lv_4h, mv_4h = states(16)
    np.testing.assert_array_equal(lv_day, lv_4h)
    assert mv_day == mv_4h
    assert lv_day.any() and any(a for a, _ in mv_day)  # 30 days at these rates: outages of both kinds


def test_cable_rate_scales_with_length():
    from energy_sim.events.outages import MV_CABLE

    ten_years_s = 10 * 365.25 * DAY_S
    names = [f"c{i}" for i in range(2001)]
    scale = [1.0] * 1000 + [4.0] * 1000 + [0.0]
    w = simulate_outages(names, MV_CABLE, ten_years_s, np.random.default_rng(4), rate_scale=scale)
    index = w.element.str[1:].astype(int)
    # 0.01 /(km yr) x 10 yr: 1000 cables of 1 km ~ 100 failures (Poisson sd 10), of 4 km ~ 400 (sd 20);
    # repair (a day) shortens the time at risk negligibly
    assert 70 < (index < 1000).sum() < 130
    assert 340 < ((index >= 1000) & (index < 2000)).sum() < 460
    assert (index == 2000).sum() == 0  # length 0: never fails

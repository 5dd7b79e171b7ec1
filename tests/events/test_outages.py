"""Outage windows: hand-checked availability, rates, determinism."""

import numpy as np
import pandas as pd
import pytest

from energy_sim.events.outages import WIND_TURBINE, OutageModel, availability, simulate_outages


def test_availability_by_hand():
    """Outage 1000-2800 s on 900 s steps: steps 0-3 are up 1, 100/900, 0, 800/900... of the time."""
    windows = pd.DataFrame({"element": ["t1"], "start_s": [1000.0], "end_s": [2800.0]})
    a = availability(windows, ["t0", "t1"], 0.0, 4, 900.0)
    np.testing.assert_allclose(a[:, 0], 1.0)
    np.testing.assert_allclose(a[:, 1], [1.0, 100 / 900, 0.0, 1 - 100 / 900])
    # a block starting later sees only its part
    np.testing.assert_allclose(availability(windows, ["t1"], 1800.0, 2, 900.0)[:, 0], [0.0, 1 - 100 / 900])


def test_rate_and_repair_times_follow_the_model():
    year_s = 365.25 * 86_400
    elements = [f"wt{i}" for i in range(300)]
    w = simulate_outages(elements, WIND_TURBINE, year_s, np.random.default_rng(7))
    expected = 2.0 * 300  # ~2 failures per turbine-year; Poisson sd ~24.5, repair time shortens it slightly
    assert 0.9 * expected < len(w) < 1.05 * expected
    repair_h = (w.end_s - w.start_s) / 3600
    assert np.median(repair_h) == pytest.approx(48.0, rel=0.2)
    # per element, windows do not overlap and start within the horizon
    for _, g in w.groupby("element"):
        assert (g.start_s.to_numpy()[1:] >= g.end_s.to_numpy()[:-1]).all()
    assert (w.start_s < year_s).all()


def test_same_seed_same_windows():
    model = OutageModel(failures_per_year=5.0, repair_median_h=10.0, repair_sigma=0.5)
    a = simulate_outages(["a", "b", "c"], model, 86_400.0 * 365, np.random.default_rng(11))
    b = simulate_outages(["a", "b", "c"], model, 86_400.0 * 365, np.random.default_rng(11))
    pd.testing.assert_frame_equal(a, b)
    c = simulate_outages(["a", "b"], model, 86_400.0 * 365, np.random.default_rng(11))
    # adding element c does not change the windows of a and b
    pd.testing.assert_frame_equal(c, a[a.element != "c"].reset_index(drop=True))

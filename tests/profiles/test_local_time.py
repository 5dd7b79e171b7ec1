"""The profiles' local clock (energy_sim.profiles.local_time) against pandas' own time-zone conversion."""

import numpy as np
import pandas as pd
import pytest

from energy_sim.profiles.local_time import LOCAL_TZ, local_wall_ns


def _pandas_wall_ns(utc_ns: np.ndarray, tz: str = LOCAL_TZ) -> np.ndarray:
    return pd.DatetimeIndex(utc_ns, tz="UTC").tz_convert(tz).tz_localize(None).asi8


@pytest.mark.parametrize("start, end, freq", [
    ("2023-12-30", "2027-01-02", "7min"),  # four years, steps off the hour, two leap-year boundaries
    ("2025-03-30 00:00", "2025-03-30 02:00", "1min"),  # spring change at 01:00 UTC, minute by minute
    ("2025-10-26 00:00", "2025-10-26 02:00", "1min"),  # autumn change at 01:00 UTC
    ("2024-12-31 22:00", "2025-01-01 02:00", "15min"),  # a block across New Year, local midnight in it
])
def test_wall_clock_is_what_pandas_converts_to(start, end, freq):
    utc_ns = pd.date_range(start, end, freq=freq, tz="UTC").asi8
    np.testing.assert_array_equal(local_wall_ns(utc_ns), _pandas_wall_ns(utc_ns))


def test_any_instants_over_decades_and_other_zones():
    # unordered instants from 1975 to 2045 (rules changed in 1977 and 1996 in the Netherlands), and zones
    # with other offsets and rules
    rng = np.random.default_rng(7)
    lo, hi = pd.Timestamp("1975-01-01", tz="UTC").value, pd.Timestamp("2045-01-01", tz="UTC").value
    utc_ns = rng.integers(lo, hi, 20_000) // 60_000_000_000 * 60_000_000_000
    for tz in (LOCAL_TZ, "America/St_Johns", "Australia/Lord_Howe", "UTC"):
        np.testing.assert_array_equal(local_wall_ns(utc_ns, tz), _pandas_wall_ns(utc_ns, tz), err_msg=tz)


def test_empty_and_known_offsets():
    assert local_wall_ns(np.zeros(0, np.int64)).size == 0
    hour_ns = 3_600 * 10**9
    winter, summer = pd.Timestamp("2025-01-15 12:00", tz="UTC").value, pd.Timestamp("2025-07-15 12:00", tz="UTC").value
    # CET is UTC+1, CEST UTC+2 (summer time from the last Sunday of March to the last Sunday of October,
    # EU directive 2000/84/EC)
    np.testing.assert_array_equal(local_wall_ns(np.array([winter, summer])) - [winter, summer], [hour_ns, 2 * hour_ns])

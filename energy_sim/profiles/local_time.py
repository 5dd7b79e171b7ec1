"""The local clock of the profiles: UTC instants to Europe/Amsterdam wall-clock time.

Household and DHW shapes follow the local clock (daylight saving time
included). A pandas ``tz_convert`` costs ~0.1-0.2 ms a call in object
overhead whatever the length of the index, and the engine converts every
block; `local_wall_ns` converts the int64 nanoseconds with a table of the
zone's changes of UTC offset per year, taken once per year from pandas
(the time-zone database), so a block costs a binary search.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

LOCAL_TZ = "Europe/Amsterdam"

_NS_PER_MIN = 60 * 10**9


def local_wall_ns(utc_ns: np.ndarray, tz: str = LOCAL_TZ) -> np.ndarray:
    """Wall-clock time in `tz` of the UTC instants `utc_ns` (int64 ns since 1970-01-01 UTC), as int64 ns
    since 1970-01-01 of that wall clock: what ``DatetimeIndex(utc_ns, tz="UTC").tz_convert(tz)
    .tz_localize(None).asi8`` gives."""
    utc_ns = np.asarray(utc_ns, dtype=np.int64)
    if utc_ns.size == 0:
        return utc_ns.copy()
    first, last = int(utc_ns.min()), int(utc_ns.max())
    change_ns, offset_ns = _offset_table(tz, _utc_year(first), _utc_year(last))
    return utc_ns + offset_ns[np.searchsorted(change_ns, utc_ns, side="right")]


def _utc_year(ns: int) -> int:
    return int(np.datetime64(ns, "ns").astype("datetime64[Y]").astype(np.int64)) + 1970


@lru_cache(maxsize=32)
def _offset_table(tz: str, first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """The UTC offsets of `tz` from a day before `first_year` to a day after `last_year`: the instants at
    which the offset changes (``[n]`` int64 ns, UTC) and the offsets (``[n + 1]`` int64 ns; offset ``k``
    holds before change ``k``, the last after the last change). Changes found on an hourly grid, then to
    the minute (the zones of the time-zone database change on whole minutes)."""
    start = pd.Timestamp(f"{first_year}-01-01", tz="UTC") - pd.Timedelta(days=1)
    end = pd.Timestamp(f"{last_year + 1}-01-01", tz="UTC") + pd.Timedelta(days=1)
    hours = pd.date_range(start, end, freq="1h", tz="UTC")
    offset = _offsets_ns(hours.asi8, tz)
    changes = []
    for k in np.flatnonzero(np.diff(offset)):
        minutes = hours.asi8[k] + _NS_PER_MIN * np.arange(61, dtype=np.int64)
        changes.append(minutes[np.argmax(_offsets_ns(minutes, tz) != offset[k])])
    change_ns = np.array(changes, dtype=np.int64)
    offset_ns = np.concatenate([offset[:1], _offsets_ns(change_ns, tz)]).astype(np.int64)
    for a in (change_ns, offset_ns):
        a.flags.writeable = False
    return change_ns, offset_ns


def _offsets_ns(utc_ns: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset of `tz` at each instant [ns], by pandas."""
    return pd.DatetimeIndex(utc_ns, tz="UTC").tz_convert(tz).tz_localize(None).asi8 - utc_ns

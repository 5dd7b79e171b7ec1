"""Household and small-business electricity demand.

Two layers, as everywhere in ``energy_sim.profiles``:

* :func:`standard_load_shape` — a deterministic, normalised shape (mean 1.0
  over a year) that approximates the Dutch NEDU standard profiles by local
  quarter-hour of day, day type (weekday / Saturday / Sunday and public
  holiday) and season.
* :func:`household_load_kw` — per-connection stochastic demand ``[n_step,
  n_connection]`` whose ensemble mean converges to the standard shape scaled
  by each connection's annual energy.

The shape is an *approximation*, not the NEDU table itself (the official
profile fractions are published yearly by NEDU, "Verbruiksprofielen", and are
not redistributed here). It is built from periodic von Mises bumps over the
local hour of day so that its daily mean is known in closed form and any time
resolution samples the same energy. Its targets (``reference/hengelo.md``,
"Behaviour and profiles"):

* E1A (homes, connection <= 3x25 A): evening peak ~2x the annual mean
  quarter-hour, night minimum ~0.5x, winter above summer. The seasonal
  amplitude (+-17 %, i.e. a December/June day ratio of ~1.4) follows the
  monthly E1A fractions, which run from roughly 7 % of annual use in June to
  roughly 10 % in December/January (NEDU profiles of recent years; re-check
  against the current NEDU table before calibrating to it).
* E3A-like (small businesses, shops and offices): a weekday plateau from
  ~08:00 to ~18:00 peaking at ~2.0-2.3x the mean around 13:00, nights and
  Sundays ~0.4-0.7x,
  a small seasonal amplitude (+-8 %). This mirrors the working-hours
  character of NEDU E3A/E3B; it is a documented stand-in, not the table.

Stochastic model of one connection (details in :func:`household_load_kw`):
the standard shape, shifted by the home's persistent routine shift (whole
minutes) and scaled by a lognormal day factor of its own and one shared by
all homes, carries (1 - f) of the energy times a mean-one lognormal AR(1)
noise (log s.d. 0.25, correlation time 1 h), and f = 50 % as appliance
events: Poisson arrivals at a rate proportional to that level, each with a
Gamma energy (mean 0.35 kWh, c.v. 0.5) spent within its step.

For speed (issue 4: 1.4e9 values in a city-year), the noise and the events
are not drawn value by value: each connection reads, per block, a window of
a long precomputed stationary noise path and of a precomputed unit-rate
Poisson process (Exp(1) gaps with Gamma energies), at offsets drawn from its
own random stream, and runs the events on its own clock (the integral of its
event rate). A window of a stationary path is a sample of the process, so
this preserves, per connection: the mean-one factors (each pool is
normalised to mean exactly 1, so the expected annual energy is
``annual_kwh``), the lognormal marginal and the AR(1) autocorrelation
``exp(-dt/tau)`` of the noise, the Poisson law of the event counts with
their rate following the shape (more events at the evening peak, not bigger
ones), and the Gamma law of their energies. Connections are independent
given the pools, so an aggregate of n homes is smoother than one home by the
usual 1/sqrt(n) of independent demand, and the after-diversity maximum
demand (ADMD) is that of the per-value model (CLNR-L217 range, see
:class:`HouseholdNoise`). What the pools limit is variety: 65,536 noise
windows and 16,384 event sequences, which a connection meets at random,
per block. Each block starts the noise from a stationary window and the
event clock afresh (memoryless), so blocks are independent and reproducible
from ``(seed, wijk, block)``, as before.

Seeding for the engine (reproducible per block, independent of the number of
workers)::

    traits = household_traits(
        n_connection, rng=np.random.default_rng([seed, STREAM_HOUSEHOLD_TRAITS, wijk]),
        common_seed=seed)
    for block_index, time_block in enumerate(blocks):
        p_kw = household_load_kw(
            time_block, annual_kwh,
            rng=np.random.default_rng([seed, STREAM_HOUSEHOLD_NOISE, wijk, block_index]),
            traits=traits)

Persistent traits (time shift, and the seed of the weather-like day factor
shared by all homes) come from the traits generator, drawn once; the
short-term noise and appliance events come from the per-block generator.
When traits are drawn per wijk, pass ``common_seed=seed`` to
:func:`household_traits` so the shared day factor is the same city-wide.
The per-connection day factor is drawn per local date within a block; with
blocks of one UTC day (local 01:00/02:00 to the next day) it changes at the
block boundary, in the night, rather than at local midnight — harmless for
the statistics.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import numpy as np
import pandas as pd
from numba import njit, prange
from scipy.special import i0e, ndtri

from energy_sim.profiles.local_time import local_wall_ns


__all__ = [
    "HouseholdConnections",
    "HouseholdGroup",
    "HouseholdNoise",
    "HouseholdTraits",
    "StandardProfile",
    "household_groups_load_kw",
    "household_load_kw",
    "household_traits",
    "standard_load_shape",
]

HOURS_PER_YEAR = 8766.0  # mean Gregorian year, 365.2425 d x 24 h
_DAYS_PER_YEAR = 365.2425
_TWO_PI = 2.0 * np.pi


class StandardProfile(StrEnum):
    """Which standard shape to use.

    ``e1a``: Dutch homes (NEDU E1A approximation).
    ``e3a``: small businesses (E3A-like working-hours approximation).
    """

    e1a = "e1a"
    e3a = "e3a"


@dataclass(frozen=True)
class _DayShape:
    """A periodic daily shape ``base + sum_k a_k exp(kappa_k (cos(2 pi (h - mu_k)/24) - 1))``.

    ``mu_h`` are the local clock hours of the bumps, ``kappa`` their
    concentrations (width: FWHM ~ 24/pi * acos(1 - ln2/kappa) hours).
    """

    base: float
    amp: tuple[float, ...]
    mu_h: tuple[float, ...]
    kappa: tuple[float, ...]

    def mean(self) -> float:
        """Exact mean over a day (the mean of exp(k(cos x - 1)) is i0e(k))."""
        return self.base + float(sum(a * i0e(k) for a, k in zip(self.amp, self.kappa)))


@dataclass(frozen=True)
class _ProfileDef:
    """Definition of a standard profile.

    ``shapes`` maps (season, day type) -> _DayShape, season in {"winter",
    "summer"}, day type in {0: weekday, 1: Saturday, 2: Sunday/holiday}.
    ``day_energy`` is the relative daily energy per day type, chosen so that
    ``(5 d0 + d1 + d2) / 7 == 1`` and renormalised at run time for the
    expected number of weekday holidays (:func:`_mean_day_energy`); ``season_amp`` is the relative
    amplitude of the yearly cosine peaking on ``season_peak_doy``.
    """

    shapes: dict
    day_energy: tuple[float, float, float]
    season_amp: float
    season_peak_doy: float = 1.0


# E1A-like. Winter weekday: night base, breakfast bump ~07:45, broad midday,
# evening peak ~18:45 (cooking + lighting). Summer: evening peak later
# (~20:30, lighting after sunset) and flatter. Weekends: later morning,
# more midday use. Tuned so that the winter-weekday evening maximum is ~2.2x
# and the summer night minimum ~0.47x the annual mean (hengelo.md: ~2x, ~0.5x).
_E1A = _ProfileDef(
    shapes={
        ("winter", 0): _DayShape(0.50, (0.45, 0.35, 1.05, 0.25), (7.75, 12.5, 18.75, 21.5), (8.0, 1.5, 5.0, 6.0)),
        ("winter", 1): _DayShape(0.50, (0.25, 0.55, 0.95, 0.30), (9.0, 13.0, 18.5, 21.5), (6.0, 1.5, 5.0, 6.0)),
        ("winter", 2): _DayShape(0.50, (0.20, 0.60, 1.00, 0.25), (9.5, 13.0, 18.25, 21.5), (6.0, 1.5, 5.0, 6.0)),
        ("summer", 0): _DayShape(0.50, (0.40, 0.40, 0.70, 0.55), (7.5, 12.5, 18.25, 21.25), (8.0, 1.5, 6.0, 5.0)),
        ("summer", 1): _DayShape(0.50, (0.25, 0.60, 0.60, 0.55), (9.0, 13.0, 18.25, 21.25), (6.0, 1.5, 6.0, 5.0)),
        ("summer", 2): _DayShape(0.50, (0.20, 0.65, 0.65, 0.50), (9.5, 13.0, 18.0, 21.25), (6.0, 1.5, 6.0, 5.0)),
    },
    day_energy=(0.98, 1.04, 1.06),
    season_amp=0.17,
)

# E3A-like: working-hours plateau on weekdays, reduced Saturday, low Sunday.
_E3A = _ProfileDef(
    shapes={
        ("winter", 0): _DayShape(0.45, (1.45, 0.35), (13.0, 8.5), (1.6, 8.0)),
        ("winter", 1): _DayShape(0.55, (0.75,), (13.0,), (2.0,)),
        ("winter", 2): _DayShape(0.70, (0.10,), (13.0,), (2.0,)),
        ("summer", 0): _DayShape(0.45, (1.50, 0.25), (13.0, 8.5), (1.6, 8.0)),
        ("summer", 1): _DayShape(0.55, (0.75,), (13.0,), (2.0,)),
        ("summer", 2): _DayShape(0.70, (0.10,), (13.0,), (2.0,)),
    },
    day_energy=(1.16, 0.78, 0.42),
    season_amp=0.08,
)

_PROFILES: dict[StandardProfile, _ProfileDef] = {StandardProfile.e1a: _E1A, StandardProfile.e3a: _E3A}


def _check_time(time_utc: pd.DatetimeIndex) -> pd.DatetimeIndex:
    if not isinstance(time_utc, pd.DatetimeIndex) or time_utc.tz is None:
        raise ValueError(
            f"time_utc must be a timezone-aware pandas.DatetimeIndex (got {type(time_utc).__name__}"
            f" with tz={getattr(time_utc, 'tz', None)}); build it with "
            "pd.date_range(..., tz='UTC')"
        )
    return time_utc


def _easter_doy(year: np.ndarray) -> np.ndarray:
    """Day-of-year (1-based) of Easter Sunday, Gregorian calendar.

    Anonymous Gregorian algorithm (Meeus/Jones/Butcher), Meeus, *Astronomical
    Algorithms*, 2nd ed., 1998, ch. 8.
    """
    y = np.asarray(year, dtype=np.int64)
    a = y % 19
    b, c = np.divmod(y, 100)
    d, e = np.divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = np.divmod(c, 4)
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month = (h + ll - 7 * m + 114) // 31
    day = (h + ll - 7 * m + 114) % 31 + 1
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    cum = np.where(month == 3, 59, 90) + leap  # days before March / April
    return cum + day


def _is_nl_holiday(year: np.ndarray, month: np.ndarray, day: np.ndarray, doy: np.ndarray,
                   weekday: np.ndarray) -> np.ndarray:
    """Dutch public holidays on which most people do not work, from local date fields (weekday 0 = Monday).

    New Year's Day, Easter Monday, King's Day (27 April, 26 April when the
    27th is a Sunday), Ascension Day (Easter + 39), Whit Monday (Easter + 50),
    Christmas Day and Boxing Day (Rijksoverheid, "Officiële feestdagen").
    Liberation Day (5 May) is a day off only every fifth year and is ignored.
    """
    easter = _easter_doy(year)
    fixed = ((month == 1) & (day == 1)) | ((month == 12) & ((day == 25) | (day == 26)))
    kings = (month == 4) & (((day == 27) & (weekday != 6)) | ((day == 26) & (weekday == 5)))
    moving = (doy == easter + 1) | (doy == easter + 39) | (doy == easter + 50)
    return fixed | kings | moving


@dataclass(frozen=True)
class _Calendar:
    """Local-clock features of a time index, shared by all connections."""

    hour_h: np.ndarray  # local fractional clock hour [h], shape [n_step]
    day_type: np.ndarray  # 0 weekday, 1 Saturday, 2 Sunday/holiday
    doy: np.ndarray  # local day of year (1-based)
    day_code: np.ndarray  # local date as days since 1970-01-01
    dt_h: float  # step length [h]
    holidays: bool  # holidays counted as Sundays
    dates: np.ndarray  # the distinct local dates (day codes), ascending, [n_date]
    date_of_step: np.ndarray  # int64 [n_step]: each step's place in ``dates``
    date_doy: np.ndarray  # [n_date] doy of each date
    date_day_type: np.ndarray  # [n_date] day_type of each date


_NS_PER_DAY = 86_400 * 10**9


def _calendar(time_utc: pd.DatetimeIndex, holidays: bool) -> _Calendar:
    """Local-clock features of `time_utc` (see :func:`_calendar_of_ns`)."""
    time_utc = _check_time(time_utc)
    return _calendar_of_ns(time_utc.asi8, _step_h(time_utc), holidays)


def _calendar_of_ns(utc_ns: np.ndarray, dt_h: float, holidays: bool) -> _Calendar:
    """Local-clock features of the UTC instants `utc_ns` [int64 ns], steps of `dt_h` hours, from the
    wall-clock nanoseconds (:func:`local_wall_ns`): integer arithmetic per step and the date's fields
    once per local date (pandas' field accessors cost ~0.1 ms each per call, and a block of a day has
    two local dates)."""
    wall_ns = local_wall_ns(utc_ns)
    day_code = wall_ns // _NS_PER_DAY  # local date as days since 1970-01-01
    sec = (wall_ns - day_code * _NS_PER_DAY) // 10**9
    hour_h = sec // 3600 + (sec % 3600 // 60) / 60.0 + (sec % 60) / 3600.0
    dates, date_of_step = np.unique(day_code, return_inverse=True)
    date_of_step = date_of_step.astype(np.int64).ravel()
    fields = np.array([_date_fields(int(d), holidays) for d in dates], dtype=np.int64).reshape(-1, 2)
    doy, day_type = fields[:, 0], fields[:, 1]
    doy = doy.astype(float)
    return _Calendar(hour_h, day_type[date_of_step], doy[date_of_step], day_code, dt_h, holidays,
                     dates, date_of_step, doy, day_type)


_EPOCH = dt.date(1970, 1, 1)


@lru_cache(maxsize=4096)
def _date_fields(day_code: int, holidays: bool) -> tuple[int, int]:
    """(day of year, day type) of the local date ``day_code`` (days since 1970-01-01)."""
    date = _EPOCH + dt.timedelta(days=day_code)
    doy = date.timetuple().tm_yday
    weekday = date.weekday()  # 0 = Monday
    if holidays and doy in _nl_holiday_doys(date.year):
        return doy, 2
    return doy, 1 if weekday == 5 else 2 if weekday == 6 else 0


@lru_cache(maxsize=64)
def _nl_holiday_doys(year: int) -> frozenset[int]:
    """Days of the year (1-based) of `year`'s Dutch public holidays (:func:`_is_nl_holiday`)."""
    date = np.arange(f"{year}-01-01", f"{year + 1}-01-01", dtype="datetime64[D]")
    month_start = date.astype("datetime64[M]")
    doy = np.arange(1, date.size + 1)
    weekday = (date.astype(np.int64) + 3) % 7
    off = _is_nl_holiday(np.full(date.size, year), month_start.astype(np.int64) % 12 + 1,
                         (date - month_start).astype(np.int64) + 1, doy, weekday)
    return frozenset(int(d) for d in doy[off])


def _step_h(time_utc: pd.DatetimeIndex) -> float:
    if time_utc.freq is not None:
        return pd.Timedelta(time_utc.freq).total_seconds() / 3600.0
    if len(time_utc) < 2:
        raise ValueError(
            "cannot infer the time step of a one-element time_utc without a freq; "
            "build it with pd.date_range(..., freq='15min')"
        )
    steps = np.diff(time_utc.asi8)
    if not np.all(steps == steps[0]):
        raise ValueError(f"time_utc must be evenly spaced (found steps from {steps.min()} to {steps.max()} ns)")
    return float(steps[0]) / 3.6e12


# Expected weekday holidays per year: Easter Monday, Ascension, Whit Monday
# always fall on weekdays; New Year, King's Day and the two Christmas days on
# a weekday 5 years in 7.
_WEEKDAY_HOLIDAYS_PER_YEAR = 3.0 + 4.0 * 5.0 / 7.0


def _mean_day_energy(pdef: _ProfileDef, holidays: bool) -> float:
    """Expected daily energy factor over a year, so the annual mean shape is 1."""
    d0, d1, d2 = pdef.day_energy
    h = _WEEKDAY_HOLIDAYS_PER_YEAR if holidays else 0.0
    n_week = _DAYS_PER_YEAR / 7.0
    return ((5.0 * n_week - h) * d0 + n_week * d1 + (n_week + h) * d2) / _DAYS_PER_YEAR


_GRID_H = np.linspace(0.0, 24.0, 24 * 60 + 1)  # one-minute grid of local clock hours


@lru_cache(maxsize=64)
def _day_grid(shape: _DayShape, kappa_shift: float) -> np.ndarray:
    """A day shape (daily mean 1) tabulated on the one-minute grid ``_GRID_H``.

    ``kappa_shift`` [rad²] sharpens each bump (see :func:`household_load_kw`):
    its concentration becomes ``1 / (1/kappa - kappa_shift)`` and its
    amplitude is rescaled so its daily energy is unchanged.
    """
    out = np.full(_GRID_H.shape, shape.base, dtype=float)
    for a, mu, k in zip(shape.amp, shape.mu_h, shape.kappa):
        k_eff = 1.0 / (1.0 / k - kappa_shift) if kappa_shift > 0.0 else k
        a_eff = a * i0e(k) / i0e(k_eff)
        out += a_eff * np.exp(k_eff * (np.cos(_TWO_PI * (_GRID_H - mu) / 24.0) - 1.0))
    out /= shape.mean()
    out.flags.writeable = False
    return out


def _table(pdef: _ProfileDef, kappa_shift: float) -> np.ndarray:
    """Day shapes of a profile stacked as ``[day_type * 2 + season, minute]``, season 0 winter, 1 summer."""
    return np.stack([
        _day_grid(pdef.shapes[(season, dtype)], round(float(kappa_shift), 12))
        for dtype in (0, 1, 2)
        for season in ("winter", "summer")
    ])


def _shape_core(cal: _Calendar, pdef: _ProfileDef, hour_h: np.ndarray, kappa_shift: float = 0.0) -> np.ndarray:
    """Shape at local hours ``hour_h`` in [0, 24) of shape ``[n_step, k]`` (row ``j`` on the calendar's step ``j``).

    Linear interpolation on the one-minute tables by direct indexing (the
    grid is uniform): relative error below 1e-4 for these smooth shapes, and
    ~30x faster than evaluating exponentials for 40,000 connections.
    """
    phase = _TWO_PI * (cal.doy - pdef.season_peak_doy) / _DAYS_PER_YEAR
    w_winter = (0.5 * (1.0 + np.cos(phase)))[:, None]
    season = 1.0 + pdef.season_amp * np.cos(phase)
    day_energy = np.asarray(pdef.day_energy)[cal.day_type] / _mean_day_energy(pdef, cal.holidays)
    flat = _table(pdef, kappa_shift).ravel()
    n_grid = _GRID_H.size
    x = np.clip(hour_h * 60.0, 0.0, n_grid - 1.000001)
    i0 = x.astype(np.int64)
    frac = x - i0
    i0 += (cal.day_type * 2 * n_grid)[:, None]
    winter = flat[i0] * (1.0 - frac) + flat[i0 + 1] * frac
    i0 += n_grid
    summer = flat[i0] * (1.0 - frac) + flat[i0 + 1] * frac
    out = summer + w_winter * (winter - summer)
    out *= (season * day_energy)[:, None]
    return out


def standard_load_shape(
    time_utc: pd.DatetimeIndex,
    profile: StandardProfile | str = StandardProfile.e1a,
    *,
    holidays: bool = True,
) -> np.ndarray:
    """Normalised standard load shape (annual mean 1.0) on a UTC time index.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Timezone-aware, evenly spaced time stamps (start of each step). The
        shape follows the Europe/Amsterdam clock, including DST.
    profile : StandardProfile or str
        ``"e1a"`` (homes) or ``"e3a"`` (small businesses); see module notes.
    holidays : bool
        Treat Dutch public holidays as Sundays.

    Returns
    -------
    numpy.ndarray
        Shape factor [-] of shape ``[n_step]``, float64; multiply by
        ``annual_kwh / 8766 h`` to obtain mean power [kW]. The mean over any
        full calendar year is 1.0 within ~0.5 % (exact for the continuous
        day shapes; leap years, holidays and DST days cause the residual).
    """
    pdef = _PROFILES[StandardProfile(profile)]
    cal = _calendar(time_utc, holidays)
    return _shape_core(cal, pdef, cal.hour_h[:, None])[:, 0]


@dataclass(frozen=True)
class HouseholdNoise:
    """Parameters of the per-connection stochastic model.

    Defaults are engineering choices, documented, and checked against the
    after-diversity maximum demand (ADMD) of ~1–1.5 kW per home reported by
    the UK Customer-Led Network Revolution trial (CLNR-L217, "After Diversity
    Maximum Demand (ADMD) Report", Northern Powergrid, 2015: "demands
    stabilise at 1.5 kW" for domestic customers without electric heating,
    who use somewhat more electricity than Dutch homes).

    Attributes
    ----------
    shift_sd_h : float
        Std. dev. of each connection's persistent time shift [h]; household
        routines differ by tens of minutes to an hour.
    shift_max_h : float
        Clip of the time shift [h].
    day_sd : float
        Log std. dev. of each connection's day-to-day energy factor [-]
        (mean 1); daily household use varies by ~20-30 %.
    common_day_sd : float
        Log std. dev. of the day factor shared by all connections (weather,
        darkness, events) [-].
    event_share : float
        Share of energy in discrete appliance events (kettle, cooking,
        washing, dish-washer) [-].
    event_kwh : float
        Mean energy per event [kWh]; 0.35 kWh is e.g. a 1.4 kW appliance
        (oven, washing-machine heating phase) for 15 minutes.
    event_shape : float
        Gamma shape of the energy per event [-]; 4 gives a coefficient of
        variation of 0.5, so a single event rarely exceeds ~1 kWh (a 4 kW
        quarter-hour), the range of household appliances.
    noise_sd : float
        Log std. dev. of the autocorrelated multiplicative noise on the
        non-event load [-].
    noise_tau_h : float
        Correlation time of that noise [h] (AR(1)).
    """

    shift_sd_h: float = 0.5
    shift_max_h: float = 1.5
    day_sd: float = 0.2
    common_day_sd: float = 0.1
    event_share: float = 0.5
    event_kwh: float = 0.35
    event_shape: float = 4.0
    noise_sd: float = 0.25
    noise_tau_h: float = 1.0


@dataclass(frozen=True)
class HouseholdTraits:
    """Persistent per-connection traits, drawn once per scenario.

    Attributes
    ----------
    shift_h : numpy.ndarray
        Time shift of each connection's routine [h], shape ``[n_connection]``;
        positive means the home does everything later.
    common_seed : int
        Seed of the day factor shared by all connections; the factor for a
        local date ``d`` comes from ``default_rng([common_seed, d])``, so all
        blocks and all wijken see the same value on the same day.
    """

    shift_h: np.ndarray
    common_seed: int = field(default=0)


def household_traits(
    n_connection: int,
    *,
    rng: np.random.Generator,
    noise: HouseholdNoise = HouseholdNoise(),
    common_seed: int | None = None,
) -> HouseholdTraits:
    """Draw persistent per-connection traits.

    Parameters
    ----------
    n_connection : int
        Number of connections.
    rng : numpy.random.Generator
        Generator for the traits stream, e.g.
        ``np.random.default_rng([seed, STREAM_HOUSEHOLD])``; call once per
        scenario, not per block.
    noise : HouseholdNoise
        Model parameters.
    common_seed : int, optional
        Seed of the shared day factor. Pass the scenario seed when traits are
        drawn per wijk, so that every wijk sees the same "weather" of
        behaviour on the same day; default: drawn from ``rng``.

    Returns
    -------
    HouseholdTraits
    """
    shift_h = np.clip(rng.normal(0.0, noise.shift_sd_h, n_connection), -noise.shift_max_h, noise.shift_max_h)
    if common_seed is None:
        common_seed = int(rng.integers(0, 2**63 - 1))
    return HouseholdTraits(shift_h=shift_h, common_seed=int(common_seed))


@lru_cache(maxsize=4096)
def _common_factor(common_seed: int, day_code: int, sd: float) -> float:
    z = np.random.default_rng([common_seed, day_code]).standard_normal()
    return float(np.exp(sd * z - 0.5 * sd * sd))


# --------------------------------------------------------------------------
# Fused per-connection kernel.
#
# Random numbers: one counter-seeded stream per connection. A group's
# block ``rng`` gives a single 64-bit key; connection ``i`` of the group runs
# SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
# generators", OOPSLA; the generator Java's SplittableRandom and numpy's
# SeedSequence helpers are built on) from ``mix(key + mix(i))``. A
# connection's draws thus depend only on (key, i), never on the thread that
# computes it or on the other connections or groups in the call: the same
# (seed, block) gives bit-identical output whatever the number of threads
# (fastmath off, no reductions).

_U64_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_U64_M1 = np.uint64(0xBF58476D1CE4E5B9)
_U64_M2 = np.uint64(0x94D049BB133111EB)
_U64_30 = np.uint64(30)
_U64_27 = np.uint64(27)
_U64_31 = np.uint64(31)
_U64_11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_POISSON_PTRS_MIN = 10.0  # numpy's switch from inversion to PTRS as well


@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64 finaliser (a bijection of uint64)."""
    z = (z ^ (z >> _U64_30)) * _U64_M1
    z = (z ^ (z >> _U64_27)) * _U64_M2
    return z ^ (z >> _U64_31)


@njit(cache=True, inline="always")
def _stream_start(key, index):
    """First state of the stream of the connection at place ``index`` of a group keyed ``key`` (uint64 both)."""
    return _mix64(key + _mix64(index + _U64_GOLDEN))


@njit(cache=True, inline="always")
def _uniform(state):
    """(new state, U[0, 1) with 53 random bits)."""
    state = state + _U64_GOLDEN
    return state, float(_mix64(state) >> _U64_11) * _TWO_M53


@njit(cache=True, inline="always")
def _normal(state, spare, has_spare):
    """Standard normal by Marsaglia's polar method; returns (state, z, spare, has_spare)."""
    if has_spare:
        return state, spare, 0.0, False
    while True:
        state, u = _uniform(state)
        state, v = _uniform(state)
        u = 2.0 * u - 1.0
        v = 2.0 * v - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            f = math.sqrt(-2.0 * math.log(s) / s)
            return state, u * f, v * f, True


@njit(cache=True, inline="always")
def _poisson(state, spare, has_spare, lam):
    """Poisson(lam): inversion by sequential search for small lam (one uniform,
    with the squeeze ``u < 1 - lam <= exp(-lam)`` deciding most zero counts
    without an exponential), PTRS above 10 (Hörmann 1993, "The transformed
    rejection method for generating Poisson random variables", Insurance:
    Mathematics and Economics 12, as in numpy). Returns (state, spare, has_spare, k)."""
    if lam <= 0.0:
        return state, spare, has_spare, 0
    if lam < _POISSON_PTRS_MIN:
        state, u = _uniform(state)
        if u < 1.0 - lam:
            return state, spare, has_spare, 0
        p = math.exp(-lam)
        cdf = p
        k = 0
        while u >= cdf and k < 1000:  # k < 1000: guard against rounding of cdf near 1
            k += 1
            p *= lam / k
            cdf += p
        return state, spare, has_spare, k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        state, u = _uniform(state)
        u -= 0.5
        state, v = _uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return state, spare, has_spare, int(k)
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= -lam + k * loglam - math.lgamma(k + 1.0):
            return state, spare, has_spare, int(k)


@njit(cache=True)
def _gamma(state, spare, has_spare, shape):
    """Gamma(shape, 1): for integer shape <= 16 as ``-log`` of a product of
    uniforms (a sum of exponentials); otherwise Marsaglia & Tsang (2000), "A
    simple method for generating gamma variables", ACM TOMS 26, with shape < 1
    by ``G(shape + 1) U^(1/shape)``. Returns (state, spare, has_spare, x)."""
    if shape <= 16.0 and shape == math.floor(shape):
        # integer shape: a sum of exponentials, -log of a product of uniforms
        # (exact; cheaper than rejection for the few-event case)
        prod = 1.0
        for _ in range(int(shape)):
            state, u = _uniform(state)
            prod *= 1.0 - u  # in (0, 1]
        if prod > 1e-300:
            return state, spare, has_spare, -math.log(prod)
        # underflow (probability < 1e-280): fall through to rejection
    boost = 1.0
    if shape < 1.0:
        state, u = _uniform(state)
        boost = (1.0 - u) ** (1.0 / shape)  # 1 - u in (0, 1]
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        state, x, spare, has_spare = _normal(state, spare, has_spare)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        state, u = _uniform(state)
        if u < 1.0 - 0.0331 * x * x * x * x:
            return state, spare, has_spare, d * v * boost
        if u > 0.0 and math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return state, spare, has_spare, d * v * boost


# Pools of stochastic series shared by all connections.
#
# Drawing a normal and an exponential per value for the noise, and a Poisson
# count per step for the events, cost ~40-55 ns per value (1.4e9 values in a
# city-year). Instead, in each block each connection reads a window of two
# long sample paths, drawn once per process, starting at its own random
# offsets:
#
# * noise: a stationary AR(1) path of standard normals with the step's
#   correlation ``phi = exp(-dt_h / noise_tau_h)``, turned into the lognormal
#   factor ``exp(noise_sd x)`` and divided by its mean (exactly 1 over the pool);
# * events: a unit-rate Poisson process as a list of Exp(1) gaps, each arrival
#   with a Gamma(event_shape) energy; gaps and energies divided by their
#   means (exactly 1 over the pool).
#
# A window of a stationary path is a sample of the process, so a connection's
# noise has the model's marginal distribution and autocorrelation, and its
# events, run on its own operational clock (integrated event rate), are a
# Poisson process with that rate and Gamma energies (a time change; the Exp(1)
# gaps are memoryless, so starting the clock anywhere in the pool is exact).
# Given the pools, connections are independent: their offsets are independent
# draws from their own (key, column) streams. What they share is the finite
# set of windows: two connections see the same noise window with probability
# ~1 / 65,000 (~120 pairs among 4,000 homes in a block: their noise factors
# coincide, their shifts, day factors and events do not) and start the same
# event sequence with probability 1 / 16,384 (and then meet its events at
# other instants, as their clocks run at their own rates).
# The pools come from a fixed seed: the scenario seed chooses the offsets,
# so the same seed gives the same output and another seed other windows.

_NOISE_POOL_SIZE = 2**16  # float32, 256 KiB (L2-sized); longer than a year of 15-min steps
_EVENT_POOL_SIZE = 2**14  # float64 pairs, 256 KiB; a home has ~4,000 events a year
_MIN_PER_DAY = 1440  # one-minute grid of the day shapes
_POOL_SEED = 0x6E6F697365  # fixed: pools are part of the model, not of the run
# Steps whose expected event count reaches this draw the count and energy
# directly (large businesses on long steps) instead of walking the pool.
_EVENT_POOL_MAX_LAM = 2.0


@njit(cache=True)
def _ar1_path(z, phi):
    """Stationary AR(1) ``x[t] = phi x[t-1] + sqrt(1 - phi^2) z[t]``, ``x[0] = z[0]`` (unit variance)."""
    x = np.empty_like(z)
    c = math.sqrt(1.0 - phi * phi)
    x[0] = z[0]
    for t in range(1, z.size):
        x[t] = phi * x[t - 1] + c * z[t]
    return x


@lru_cache(maxsize=8)
def _noise_pool(noise_sd: float, phi: float) -> np.ndarray:
    """Lognormal AR(1) factors ``exp(noise_sd x)``, ``x`` of correlation ``phi`` per step, divided by their mean.

    Returns ``[_NOISE_POOL_SIZE]`` float32, read-only, cached (a few ms to draw).
    """
    z = np.random.default_rng([_POOL_SEED, 1]).standard_normal(_NOISE_POOL_SIZE)
    pool = np.exp(noise_sd * _ar1_path(z, phi))
    pool = (pool / pool.mean()).astype(np.float32)
    pool.flags.writeable = False
    return pool


@lru_cache(maxsize=8)
def _event_pool(event_shape: float) -> np.ndarray:
    """A unit-rate Poisson process with marks: ``[_EVENT_POOL_SIZE, 2]`` float64 of
    (Exp(1) gap before arrival k, Gamma(event_shape) energy of arrival k), each column divided by its mean.

    Read-only, cached.
    """
    rng = np.random.default_rng([_POOL_SEED, 2])
    pool = np.empty((_EVENT_POOL_SIZE, 2))
    pool[:, 0] = rng.standard_exponential(_EVENT_POOL_SIZE)
    pool[:, 1] = rng.gamma(event_shape, 1.0, _EVENT_POOL_SIZE)
    pool /= pool.mean(axis=0)
    pool.flags.writeable = False
    return pool


@lru_cache(maxsize=8)
def _event_columns(event_shape: float) -> tuple[np.ndarray, np.ndarray]:
    """The gaps and the energies of :func:`_event_pool` as two contiguous arrays (read-only, cached)."""
    pool = _event_pool(event_shape)
    if pool.shape[0] & (pool.shape[0] - 1):
        raise ValueError(f"the event pool's length must be a power of two (got {pool.shape[0]}): "
                         "_household_kernel wraps its index with a mask")
    gap, energy = np.ascontiguousarray(pool[:, 0]), np.ascontiguousarray(pool[:, 1])
    gap.flags.writeable = False
    energy.flags.writeable = False
    return gap, energy


@njit(cache=True)
def _household_column(out, i, day_table, step_index, step_frac, day_idx, day_scale, shift_off, mean_kw, conn_key,
                      conn_index, day_factor, noise_pool, n_noise, event_pool, event_share, event_kwh, event_shape,
                      dt_h):
    """Fill column ``i`` of ``out[n_step, n_conn]`` [kW] step by step: the model's reference loop.

    :func:`_household_kernel` computes the same values in tiles and uses
    this loop for the connections whose expected event count can reach
    ``_EVENT_POOL_MAX_LAM`` in a step (large businesses), where direct
    Poisson/Gamma draws interleave with the day-factor draws.
    ``day_table`` holds, per local date of the block, the (sharpened)
    winter/summer blend of that date's day shape on a one-minute grid over
    two days; step ``t`` of a connection shifted by ``s`` whole minutes reads
    it at ``step_index[t] + shift_off`` with ``shift_off = 1440 - s mod
    1440`` (no wrapping needed) and interpolates by ``step_frac[t]``.
    ``day_scale[d]`` is date ``d``'s season, day-type energy and shared day
    factor; ``day_idx[t]`` the date of step ``t``. Random draws per connection
    and block: two uniforms (pool offsets) and one uniform per local date
    (day factor: the quantile it selects in ``day_factor``, see
    :func:`_day_factor_quantiles`), plus direct Poisson/Gamma draws on steps
    whose expected event count reaches ``_EVENT_POOL_MAX_LAM``. The event
    clock is summed step by step here; :func:`_household_kernel` reads it
    off the cumulative shape instead. ``noise_pool`` is the pool, or for
    blocks longer than it the pool repeated (``n_noise`` is the pool's own
    length).
    """
    n_step = out.shape[0]
    n_day_factor = day_factor.size
    # windows that do not wrap around the end of the (non-cyclic) AR(1) path
    n_window = n_noise - n_step + 1 if n_step <= n_noise else n_noise
    n_event_pool = event_pool.shape[0]
    event_scale = event_kwh / dt_h  # pool energies have mean 1 (x event_kwh), spread over the step
    m_kw = mean_kw[i]
    if m_kw <= 0.0:
        for t in range(n_step):
            out[t, i] = 0.0
        return
    state = _stream_start(conn_key[i], conn_index[i])
    spare = 0.0
    has_spare = False
    state, u = _uniform(state)
    j_noise = int(u * n_window)
    state, u = _uniform(state)
    j_event = int(u * n_event_pool)
    next_event = event_pool[j_event, 0]  # operational time of the first arrival
    clock = 0.0
    off = shift_off[i]
    day = -1
    base_kw = 0.0
    lam_per_level = 0.0
    for t in range(n_step):
        if day_idx[t] != day:  # new local date: new day factor
            day = day_idx[t]
            state, u = _uniform(state)
            day_f = day_factor[int(u * n_day_factor)] * day_scale[day]
            base_kw = (1.0 - event_share) * m_kw * day_f
            lam_per_level = event_share * m_kw * dt_h / event_kwh * day_f
        j = step_index[t] + off
        a = day_table[j]
        level = a + step_frac[t] * (day_table[j + 1] - a)
        p_kw = base_kw * level * noise_pool[j_noise]
        j_noise += 1
        if j_noise == n_noise:  # only for blocks longer than the pool
            j_noise = 0
        # appliance events: arrivals of the unit-rate pool process on the
        # connection's operational clock (integrated event rate)
        lam = lam_per_level * level
        if lam < _EVENT_POOL_MAX_LAM:
            clock += lam
            if clock >= next_event:
                e = 0.0
                while clock >= next_event:
                    e += event_pool[j_event, 1]
                    j_event += 1
                    if j_event == n_event_pool:
                        j_event = 0
                    next_event += event_pool[j_event, 0]
                p_kw += e * event_scale
        else:  # direct draws; the memoryless clock is left as it is
            state, spare, has_spare, n_event = _poisson(state, spare, has_spare, lam)
            if n_event > 0:
                state, spare, has_spare, g = _gamma(state, spare, has_spare, event_shape * n_event)
                p_kw += g * (event_kwh / event_shape) / dt_h
        out[t, i] = p_kw


# Tiling of the fast kernel. Output is [n_step, n_conn] C-order: one
# connection's column is strided by a row, so the kernel computes a tile of
# _TILE connections over _CHUNK steps into a small buffer, connection by
# connection (a contiguous row of the buffer each), and writes the tile's
# output rows, _TILE contiguous values each. Per connection and local date
# the non-event load is one vectorisable pass (base x shape x noise) and
# the events are placed one by one: with the shape's running sum ``cum``
# of the connection's shape row, the event clock after chunk step ``tt``
# is ``clock + rate * (cum[tt + 1] - cum[start])``, so the step of the next
# arrival is the first ``tt`` whose running sum reaches a target, found in
# the row's table ``first_step`` of the running sum's inverse on a grid of
# cells no wider than the smallest shape value (so at most one step ends in
# a cell: one lookup and one comparison per event, no branch per step).
# The table costs ~6 entries per step, row and chunk, so it is built only
# when at least _TABLE_MIN_CONN_PER_ROW connections share a row on average
# (a city block: ~200); otherwise (a few hundred homes over a year, each
# its own row) each connection scans its steps forward from its previous
# arrival, which for 175 homes over a year is faster than the table
# (34 against 46 ms) and than the previous kernel (36-42 ms).
# This is the clock of _household_column added up in another order, so the
# values agree with it to rounding: an event lands in another step only if
# its arrival falls within rounding (~1e-13) of a step's end.
# Measured on the 2-core benchmark machine (one thread, blocks of 96 steps x
# 40,000 homes, min of 5 x 40 blocks): 17.2 ms per block (4.5 ns per value)
# against 28.6 ms for the previous kernel, which advanced each connection's
# clock step by step with a mispredicted branch at each of the ~11 % of
# steps with an event, and drew each day factor by the polar method and an
# exponential (~3.4 ms of the 28.6).
_TILE = 64  # connections per tile: output rows of 256 B (float32)
_CHUNK = 96  # steps per chunk: a 48 KiB float64 buffer per tile; at most 255 (uint8 steps in first_step)
_DAY_FACTOR_QUANTILES = 4096  # day factors: quantiles of the lognormal, 32 KiB
_TABLE_MIN_CONN_PER_ROW = 8  # connections per shape row from which first_step is built (else a forward scan)


@njit(cache=True, parallel=True, fastmath=False)
def _household_kernel(out, day_table, step_index, step_frac, day_idx, day_scale, shift_off, mean_kw, conn_key,
                      conn_index, day_factor, noise_pool, n_noise, event_pool, event_gap, event_energy, event_share,
                      event_kwh, event_shape, dt_h, work_f, work_i, work_u, exact, seg_start, tile_seg, seg_sum):
    """Fill ``out[n_step, n_conn]`` [kW] (see household_load_kw and :func:`_household_column`).

    Per connection, as :func:`_household_column`: the same draws from its
    own stream (two pool offsets, one uniform per local date), the same
    shape, noise and event clock, hence the same output up to rounding (see
    the comment above); connections whose expected event count can reach
    ``_EVENT_POOL_MAX_LAM`` in a step are computed by
    :func:`_household_column` itself (their direct draws would interleave
    with the day-factor draws). What differs is the order of work:
    connections with the same shift share one row of shape values per
    chunk (``level``, its running sum ``cum`` and the latter's inverse
    ``first_step``), and a tile of connections is computed into a local
    buffer and written row by row. Memory beyond the output is
    ``O(n_conn)``: each connection carries its random stream, clocks and
    current day factor from chunk to chunk, in the caller's work space
    (``work_f`` float64 ``[4, n_conn]``, ``work_i`` int64 ``[4, n_conn]``,
    ``work_u`` uint64 ``[2, n_conn]``, ``exact`` bool ``[n_conn]``; their
    contents on entry do not matter). ``event_gap``/``event_energy``
    are the two columns of ``event_pool``, contiguous, of a power-of-two
    length. Sums per step: the connections are cut into segments
    (``seg_start[s]`` to ``seg_start[s + 1]``, none across a tile's edge;
    tile ``k`` holds segments ``tile_seg[k]`` to ``tile_seg[k + 1]``), and
    ``seg_sum[s, t]`` receives segment ``s``'s load at step ``t``, summed
    before the rounding to the output's dtype and without the connections
    left to :func:`_household_column` (``exact``), whose columns the caller
    adds.
    """
    n_step, n_conn = out.shape
    if n_step == 0 or n_conn == 0:
        return
    n_date = day_scale.size
    n_day_factor = day_factor.size
    n_window = n_noise - n_step + 1 if n_step <= n_noise else n_noise
    n_event_pool = event_gap.size
    pool_mask = np.uint64(n_event_pool - 1)
    event_scale = event_kwh / dt_h
    date_end = np.empty(n_date, np.int64)  # first step after each local date
    for t in range(n_step):
        date_end[day_idx[t]] = t + 1
    # the highest shape value of the block bounds every connection's event rate;
    # the lowest sets the cells of first_step (a floor keeps the table small if a shape nears zero:
    # then a lookup may need a few comparisons more)
    level_max = 0.0
    level_min = np.inf
    for j in range(day_table.size):
        level_max = max(level_max, day_table[j])
        level_min = min(level_min, day_table[j])
    cell = max(level_min, level_max / 16.0, 1e-12)
    per_cell = 1.0 / cell
    # distinct shift offsets: connections with the same one share their shape row
    # per-connection state carried from chunk to chunk: the caller's work space (HouseholdConnections keeps
    # it; fresh arrays for 40,000 connections cost ~2 ms a block in page faults), set before the first chunk
    base_kw, lam_per_level, next_event, clock = work_f[0], work_f[1], work_f[2], work_f[3]
    date, j_noise, conn_row, row_off = work_i[0], work_i[1], work_i[2], work_i[3]  # date: of the day factor
    rng_state, j_event = work_u[0], work_u[1]
    row_of = np.full(2 * _MIN_PER_DAY + 1, -1, np.int64)
    n_row = 0
    for i in range(n_conn):
        o = shift_off[i]
        if row_of[o] < 0:
            row_of[o] = n_row
            row_off[n_row] = o
            n_row += 1
        conn_row[i] = row_of[o]
    n_tile = (n_conn + _TILE - 1) // _TILE
    n_chunk_step = min(_CHUNK, n_step)
    level = np.empty((n_row, n_chunk_step))
    cum = np.empty((n_row, n_chunk_step + 1))  # cum[r, tt]: level of row r summed over chunk steps < tt
    # the table costs ~n_cell (~6 x the chunk's steps) per row and chunk: worth it when many connections share
    # a row (a city block); with few, each connection scans its steps forward from its previous arrival
    use_table = n_conn >= _TABLE_MIN_CONN_PER_ROW * n_row
    n_cell = int(n_chunk_step * level_max * per_cell) + 2 if use_table else 1
    first_step = np.zeros((n_row, n_cell), np.uint8)  # first chunk step tt with cum[r, tt + 1] >= g * cell
    for t0 in range(0, n_step, n_chunk_step):
        t1 = min(t0 + n_chunk_step, n_step)
        n_t = t1 - t0
        for r in prange(n_row):
            o = row_off[r]
            total = 0.0
            cum[r, 0] = 0.0
            for t in range(t0, t1):
                j = step_index[t] + o
                a = day_table[j]
                lv = a + step_frac[t] * (day_table[j + 1] - a)
                level[r, t - t0] = lv
                total += lv
                cum[r, t - t0 + 1] = total
            if use_table:
                tt = 0
                for g in range(n_cell):
                    while tt < n_t - 1 and cum[r, tt + 1] < g * cell:
                        tt += 1
                    first_step[r, g] = tt
        for tile in prange(n_tile):
            i0 = tile * _TILE
            n_c = min(_TILE, n_conn - i0)
            if t0 == 0:  # the pool offsets of the tile's connections, as _household_column draws them
                for c in range(n_c):
                    i = i0 + c
                    date[i] = -1
                    clock[i] = 0.0
                    base_kw[i] = 0.0
                    lam_per_level[i] = 0.0
                    exact[i] = False  # computed by _household_column
                    if mean_kw[i] <= 0.0:
                        next_event[i] = np.inf
                        j_noise[i] = 0
                        j_event[i] = 0
                        continue
                    state = _stream_start(conn_key[i], conn_index[i])
                    state, u = _uniform(state)
                    j_noise[i] = int(u * n_window)
                    state, u = _uniform(state)
                    j = int(u * n_event_pool)
                    j_event[i] = np.uint64(j)
                    next_event[i] = event_gap[j]
                    rng_state[i] = state
            buf = np.empty((_TILE, n_chunk_step))
            total = np.empty(n_chunk_step)  # a segment's sum per step (contiguous: the sum vectorises)
            for c in range(n_c):
                i = i0 + c
                clk = clock[i]
                ne = next_event[i]
                k = j_event[i]
                r = conn_row[i]
                lev = level[r]
                cm = cum[r]
                fs = first_step[r]
                noise = noise_pool[j_noise[i] + t0:]
                row = buf[c]
                t = t0
                while t < t1:  # one local date at a time
                    d = day_idx[t]
                    t_end = min(t1, date_end[d])
                    if d != date[i]:  # a new local date: the connection's day factor, drawn in date order
                        date[i] = d
                        m_kw = mean_kw[i]
                        if m_kw > 0.0 and not exact[i]:
                            state, u = _uniform(rng_state[i])
                            rng_state[i] = state
                            day_f = day_factor[int(u * n_day_factor)] * day_scale[d]
                            base_kw[i] = (1.0 - event_share) * m_kw * day_f
                            lam_per_level[i] = event_share * m_kw * dt_h / event_kwh * day_f
                            if lam_per_level[i] * level_max >= _EVENT_POOL_MAX_LAM:
                                # direct draws may interleave: the whole column is left to _household_column
                                exact[i] = True
                                base_kw[i] = 0.0
                                lam_per_level[i] = 0.0
                                ne = np.inf
                    b = base_kw[i]
                    lp = lam_per_level[i]
                    start, stop = t - t0, t_end - t0
                    # unsigned indices: no negative-index wraparound code, so the pass vectorises
                    for tt in range(np.uint64(start), np.uint64(stop)):
                        row[tt] = b * lev[tt] * noise[tt]
                    if lp > 0.0:
                        # appliance events: arrivals of the unit-rate pool process on the connection's
                        # operational clock (integrated event rate), up to the end of the date's steps
                        cum_start = cm[start]
                        clk_stop = clk + lp * (cm[stop] - cum_start)
                        if ne <= clk_stop:
                            per_lp = 1.0 / lp
                            s = start
                            while ne <= clk_stop:
                                target = cum_start + (ne - clk) * per_lp  # running sum at the arrival
                                if use_table:
                                    s = np.int64(fs[min(int(target * per_cell), n_cell - 1)])
                                    s += cm[s + 1] < target
                                # without the table: the scan from the previous arrival; with it: nothing,
                                # or a few steps where the cells were floored
                                while s < stop - 1 and cm[s + 1] < target:
                                    s += 1
                                s = max(min(s, stop - 1), start)  # rounding at the date's ends
                                row[s] += event_energy[k] * event_scale
                                k = (k + np.uint64(1)) & pool_mask
                                ne += event_gap[k]
                        clk = clk_stop
                    t = t_end
                clock[i] = clk
                next_event[i] = ne
                j_event[i] = k
            # the tile's sums per step over each of its segments of connections (each step's sum in
            # connection order, whatever the threads), then its output rows
            for sg in range(tile_seg[tile], tile_seg[tile + 1]):
                for tt in range(np.uint64(0), np.uint64(n_t)):
                    total[tt] = 0.0
                for c in range(seg_start[sg] - i0, seg_start[sg + 1] - i0):
                    row = buf[c]
                    for tt in range(np.uint64(0), np.uint64(n_t)):
                        total[tt] += row[tt]
                for tt in range(n_t):
                    seg_sum[sg, t0 + tt] = total[tt]
            for t in range(t0, t1):
                out_row = out[t, i0:i0 + n_c]
                tt = np.uint64(t - t0)
                for c in range(np.uint64(0), np.uint64(n_c)):
                    out_row[c] = buf[c, tt]
    n_exact = 0
    for i in range(n_conn):
        if exact[i]:
            n_exact += 1
    if n_exact > 0:
        exact_idx = np.flatnonzero(exact)
        for s in prange(n_exact):
            _household_column(out, exact_idx[s], day_table, step_index, step_frac, day_idx, day_scale, shift_off,
                              mean_kw, conn_key, conn_index, day_factor, noise_pool, n_noise, event_pool,
                              event_share, event_kwh, event_shape, dt_h)


@lru_cache(maxsize=8)
def _day_factor_quantiles(day_sd: float) -> np.ndarray:
    """The per-connection day factor as ``_DAY_FACTOR_QUANTILES`` equally likely values: the quantiles
    ``exp(day_sd * z_k)``, ``z_k`` the standard normal quantile at ``(k + 1/2) / n``, divided by their mean.

    A uniform draw picks one (inverse-transform sampling of the lognormal on
    a grid of probabilities 1/4096 wide): the mean is exactly 1 and the
    distribution is the lognormal's up to that grid, with its tails cut
    beyond ~3.5 standard deviations (probability 1/8192 each side). Read-only, cached.
    """
    z = ndtri((np.arange(_DAY_FACTOR_QUANTILES) + 0.5) / _DAY_FACTOR_QUANTILES)
    factor = np.exp(day_sd * z)
    factor /= factor.mean()
    factor.flags.writeable = False
    return factor


_ROW_LEN = 2 * _MIN_PER_DAY + 1  # a day shape over two days on the one-minute grid, both ends included


def _time_key(time_utc: pd.DatetimeIndex) -> tuple[int, int, int]:
    """(first instant [ns since epoch, UTC], number of steps, step [ns]) of an evenly spaced index."""
    time_utc = _check_time(time_utc)
    step_ns = int(round(_step_h(time_utc) * 3.6e12))
    return int(time_utc.asi8[0]) if len(time_utc) else 0, len(time_utc), step_ns


@dataclass(frozen=True)
class _Block:
    """What all connections of one call share (read-only arrays; see :func:`_household_kernel`)."""

    day_table: np.ndarray  # [n_date * _ROW_LEN] shape of each local date, winter/summer blended
    step_index: np.ndarray  # [n_step] int64: minute of the local day + date row offset
    step_frac: np.ndarray  # [n_step] fraction of a minute past step_index
    day_idx: np.ndarray  # [n_step] int64 local date of each step
    day_scale: np.ndarray  # [n_date] season x day-type energy x shared day factor
    dt_h: float


@lru_cache(maxsize=16)
def _block_setup(t0_ns: int, n_step: int, step_ns: int, holidays: bool, profile: StandardProfile,
                 kappa_shift: float, common_seed: int, common_day_sd: float) -> _Block:
    """Calendar, shapes and shared factors of a block; cached because the engine calls
    :func:`household_load_kw` once per wijk with the same block."""
    pdef = _PROFILES[profile]
    cal = _calendar_of_ns(t0_ns + step_ns * np.arange(n_step, dtype=np.int64), step_ns / 3.6e12, holidays)
    table = _table(pdef, kappa_shift)  # [day_type * 2 + season, minute 0..1440]
    day_idx = cal.date_of_step
    # per local date, as in _shape_core: winter/summer blend, season, day-type energy, shared day factor
    phase = _TWO_PI * (cal.date_doy - pdef.season_peak_doy) / _DAYS_PER_YEAR
    w_winter = 0.5 * (1.0 + np.cos(phase))
    day_type = cal.date_day_type
    day_energy = np.asarray(pdef.day_energy)[day_type] / _mean_day_energy(pdef, cal.holidays)
    common = np.array([_common_factor(common_seed, int(d), common_day_sd) for d in cal.dates])
    day_scale = (1.0 + pdef.season_amp * np.cos(phase)) * day_energy * common
    winter, summer = table[2 * day_type], table[2 * day_type + 1]
    one_day = summer + w_winter[:, None] * (winter - summer)
    day_table = np.concatenate([one_day[:, :_MIN_PER_DAY], one_day], axis=1).ravel()
    minute = cal.hour_h * 60.0
    whole = np.floor(minute + 1e-9)  # 17.75 h * 60 may round to 1064.9999999
    step_frac = np.maximum(minute - whole, 0.0)
    step_index = whole.astype(np.int64) + day_idx * _ROW_LEN
    arrays = (day_table, step_index, step_frac, day_idx, day_scale)
    for arr in arrays:
        arr.flags.writeable = False
    return _Block(*arrays, dt_h=float(cal.dt_h))


def household_load_kw(
    time_utc: pd.DatetimeIndex,
    annual_kwh: np.ndarray,
    *,
    rng: np.random.Generator,
    profile: StandardProfile | str = StandardProfile.e1a,
    traits: HouseholdTraits | None = None,
    noise: HouseholdNoise = HouseholdNoise(),
    holidays: bool = True,
    dtype: type = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Stochastic electricity demand of many connections.

    Model, per connection ``i`` with mean power ``m_i = annual_kwh_i / 8766 h``
    and level ``L_i(t) = D_i(d) C(d) S(t - s_i)``:

    ``p_i(t) = m_i L_i(t) (1 - f) N_i(t) + event_kwh / dt_h * sum of the energies of the events in step t``

    with ``S`` the standard shape sharpened so that averaging over the
    shifts ``s_i`` (whole minutes) returns the standard shape (bump variances
    add: ``1/kappa_ind = 1/kappa - var(s_i)`` in radians²), ``D_i`` a
    lognormal per-connection day factor (mean 1), ``C`` the shared day
    factor, ``N_i`` the noise: a mean-one lognormal of an AR(1) process with
    log s.d. ``noise_sd`` and correlation time ``noise_tau_h``, and ``f``
    the event share. Appliance events arrive as a Poisson process of rate
    ``f m_i L_i(t) / event_kwh`` per hour, each with a Gamma-distributed
    energy (mean 1, shape ``event_shape``, in units of ``event_kwh``) spread
    over its step (so hourly steps average spikes, 15-min steps show them).
    Shifts wrap around the local day, so daily energy is preserved exactly.
    All factors have mean one: the expected energy of each connection over a
    year is ``annual_kwh`` (realised spread ~1.2-1.6 % s.d. per connection;
    all of 150 homes within +-5 % in our runs).

    Computation: one fused numba kernel, parallel over tiles of 64
    connections. The noise and the events are windows of two sample paths
    drawn once per process (see "Pools" in the source): per value the
    kernel multiplies the shape, the day's base and one noise factor, with
    no random draw, no logarithm and no exponential; each event is placed
    by a lookup in the running sum of the shape (its clock), not by a test
    at every step. A tile is computed 96 steps at a time into a small
    buffer and written row by row (the output's rows are contiguous, a
    connection's column is not), and connections with the same shift share
    their shape values. About 4.5 ns of CPU per value for a block of
    40,000 homes (one core of the shared 2-core machine; 7.4 ns with the
    step-by-step clock it replaced, 10-11 ns for the per-connection loop
    writing its column directly and 45-60 ns for per-value draws; see the
    comment above ``_household_kernel`` and
    ``benchmarks/test_profiles_city_benchmark.py``). ``rng`` supplies one 64-bit key; connection ``i``
    draws from its own SplitMix64 stream seeded by ``(key, i)``: the two
    pool offsets and a uniform per local date (which of 4,096 equally
    likely quantiles of the lognormal day factor). So the output
    depends only on the generator's state, the column index and that
    column's inputs: identical whatever the number of threads, and a column
    does not change when other columns are added after it. The calendar and
    shapes of a block are cached, so calling once per wijk with the same
    block costs the calendar once; :func:`household_groups_load_kw`
    computes several groups (the wijken) in one call, with the same result.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Timezone-aware, evenly spaced time stamps of the block [UTC].
    annual_kwh : array_like
        Annual energy of each connection [kWh], shape ``[n_connection]``.
    rng : numpy.random.Generator
        Per-block generator for noise and events, e.g.
        ``np.random.default_rng([seed, block_index, stream])``.
    profile : StandardProfile or str
        ``"e1a"`` (homes) or ``"e3a"`` (small businesses).
    traits : HouseholdTraits, optional
        Persistent traits from :func:`household_traits`. If omitted they are
        drawn from ``rng`` — fine for a single call over the whole horizon,
        wrong for per-block calls (routines would change every block).
    noise : HouseholdNoise
        Stochastic model parameters.
    holidays : bool
        Treat Dutch public holidays as Sundays.
    dtype : numpy dtype
        Output dtype (float32 halves memory for a city); float32 or float64.
    out : numpy.ndarray, optional
        Preallocated C-contiguous ``[n_step, n_connection]`` array of
        ``dtype`` to fill and return; reusing one buffer per block avoids
        page-faulting a fresh array every block.

    Returns
    -------
    numpy.ndarray
        Demand [kW], shape ``[n_step, n_connection]``, >= 0.
    """
    annual_kwh = _checked_annual_kwh(annual_kwh)
    if traits is None:
        traits = household_traits(annual_kwh.size, rng=rng, noise=noise)
    return household_groups_load_kw(time_utc, [HouseholdGroup(annual_kwh, traits, rng)], profile=profile,
                                    noise=noise, holidays=holidays, dtype=dtype, out=out)


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class HouseholdGroup:
    """Connections that share a block generator, e.g. the homes of one wijk (see :func:`household_groups_load_kw`).

    Attributes
    ----------
    annual_kwh : numpy.ndarray
        Annual energy of each connection [kWh], ``[n_connection]``.
    traits : HouseholdTraits
        Their persistent traits (:func:`household_traits`).
    rng : numpy.random.Generator
        The group's generator for this block.
    """

    annual_kwh: np.ndarray
    traits: HouseholdTraits
    rng: np.random.Generator


def household_groups_load_kw(
    time_utc: pd.DatetimeIndex,
    groups: list[HouseholdGroup],
    *,
    profile: StandardProfile | str = StandardProfile.e1a,
    noise: HouseholdNoise = HouseholdNoise(),
    holidays: bool = True,
    dtype: type = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Demand of several groups of connections in one call, their columns side by side.

    The columns of group ``g`` are exactly (bit for bit) what
    ``household_load_kw(time_utc, g.annual_kwh, rng=g.rng, traits=g.traits)``
    returns; one call for all the wijken of a block uses the threads
    better than one call per wijk (one parallel region instead of one per
    wijk): 16.4 ms against 22.1 ms for a block of 10 x 4,000 homes with
    two numba threads (medians, ``test_household_load_city_blocks`` /
    ``_wijk_blocks`` in ``benchmarks/test_profiles_city_benchmark.py``,
    idle 2-core machine, 2026-11-21). Groups must share the
    traits' ``common_seed`` (the day factor shared by all connections).
    For the same connections block after block, :class:`HouseholdConnections`
    prepares them once.

    Parameters and returns as :func:`household_load_kw`; ``out`` has
    ``[n_step, sum of the groups' connections]``.
    """
    connections = HouseholdConnections([(g.annual_kwh, g.traits) for g in groups], profile=profile, noise=noise,
                                       holidays=holidays)
    return connections.load_kw(time_utc, [g.rng for g in groups], dtype=dtype, out=out)


class HouseholdConnections:
    """Groups of connections (e.g. the homes of each wijk) prepared once for the blocks of a run.

    What does not change from block to block (each connection's mean
    power, its routine's shift on the shapes' grid, its place in its group,
    the pools) is checked and computed here, and the kernel's
    per-connection work space allocated; `load_kw` then computes a block:
    what :func:`household_groups_load_kw` returns for the same groups, bit
    for bit, without ~1 ms of per-call preparation and ~2 ms of page faults
    on fresh work space for 40,000 homes. One object serves one caller at
    a time (the work space is shared by its calls).

    Parameters
    ----------
    groups : sequence of (annual_kwh, traits)
        Per group its connections' annual energy [kWh] ``[n_connection]``
        and their traits (:func:`household_traits`, with a shared
        ``common_seed``).
    profile, noise, holidays
        As in :func:`household_load_kw`.
    """

    def __init__(self, groups, *, profile: StandardProfile | str = StandardProfile.e1a,
                 noise: HouseholdNoise = HouseholdNoise(), holidays: bool = True):
        if not len(groups):
            raise ValueError("household_groups_load_kw and HouseholdConnections need at least one group of "
                             "connections")
        annual_kwh = [_checked_annual_kwh(annual) for annual, _ in groups]
        common_seeds = {int(traits.common_seed) for _, traits in groups}
        if len(common_seeds) > 1:
            raise ValueError(f"the groups' traits have different common_seed values {sorted(common_seeds)}; draw "
                             "them with the same household_traits(..., common_seed=seed)")
        for (_, traits), annual in zip(groups, annual_kwh):
            if traits.shift_h.shape != annual.shape:
                raise ValueError(
                    f"traits.shift_h has shape {traits.shift_h.shape} but annual_kwh has {annual.size} "
                    "connections; draw traits with household_traits(len(annual_kwh), ...)"
                )
        self.profile = StandardProfile(profile)
        self.noise = noise
        self.holidays = bool(holidays)
        self.common_seed = common_seeds.pop()
        self.group_sizes = np.array([a.size for a in annual_kwh], dtype=np.int64)
        pdef = _PROFILES[self.profile]
        # Sharpen bumps by the variance of the shift distribution (the model's, not
        # this call's sample, so a home's shape does not depend on who else is in
        # the call) so that the ensemble mean is the standard shape.
        shift_var_rad2 = (_TWO_PI / 24.0) ** 2 * noise.shift_sd_h**2
        max_kappa = max(max(s.kappa) for s in pdef.shapes.values())
        self.kappa_shift = round(float(min(shift_var_rad2, 0.5 / max_kappa)), 12)
        # shifts in whole minutes (the table's resolution), as offsets into the two-day rows
        shift_h = np.concatenate([np.asarray(traits.shift_h, dtype=float) for _, traits in groups])
        self.shift_off = _MIN_PER_DAY - np.rint(shift_h * 60.0).astype(np.int64) % _MIN_PER_DAY
        self.mean_kw = np.concatenate(annual_kwh) / HOURS_PER_YEAR
        # each connection's stream: its group's key for the block and its place in the group
        self.conn_index = np.concatenate([np.arange(a.size, dtype=np.uint64) for a in annual_kwh])
        self.day_factor = _day_factor_quantiles(float(noise.day_sd))
        self.event_shape = float(noise.event_shape)
        # each connection's stream key (its group's, per block) and the kernel's per-connection state,
        # reused block after block (see _household_kernel)
        n_conn = self.mean_kw.size
        self._group_edges = np.concatenate([[0], np.cumsum(self.group_sizes)])
        self._conn_key = np.empty(n_conn, np.uint64)
        self._work = (np.empty((4, n_conn)), np.empty((4, n_conn), np.int64), np.empty((2, n_conn), np.uint64),
                      np.empty(n_conn, np.bool_))
        # segments of connections for the kernel's sums: cut at every tile's and every group's first connection
        self._seg_start = np.union1d(np.arange(0, n_conn + 1, _TILE), np.append(self._group_edges, n_conn))
        n_tile = (n_conn + _TILE - 1) // _TILE
        self._tile_seg = np.searchsorted(self._seg_start, np.minimum(np.arange(n_tile + 1) * _TILE, n_conn))
        self._group_seg = np.searchsorted(self._seg_start, self._group_edges)
        self._seg_sum = np.empty((self._seg_start.size - 1, 0))
        self._no_tile_seg = np.zeros(n_tile + 1, np.int64)  # no segments: the kernel sums nothing

    @property
    def n_connection(self) -> int:
        return self.mean_kw.size

    def load_kw(self, time_utc: pd.DatetimeIndex, rngs: list[np.random.Generator], *, dtype: type = np.float32,
                out: np.ndarray | None = None, group_total_kw: np.ndarray | None = None) -> np.ndarray:
        """Demand [kW] ``[n_step, n_connection]`` over the block at `time_utc`, the groups' columns side by
        side; `rngs` are the groups' generators for this block, in order (see :func:`household_load_kw`).

        `group_total_kw`, if given (float64 ``[n_group, n_step]``), receives
        each group's demand summed per step [kW], computed by the kernel
        while the values are in its cache (before their rounding to
        `dtype`: it differs from the sum of the output's float32 values by
        ~1e-8 relative), rather than by another pass over the output;
        without it the kernel sums nothing.
        """
        if len(rngs) != self.group_sizes.size:
            raise ValueError(f"{len(rngs)} generators for {self.group_sizes.size} groups of connections")
        noise = self.noise
        block = _block_setup(*_time_key(time_utc), self.holidays, self.profile, self.kappa_shift, self.common_seed,
                             float(noise.common_day_sd))
        n_step, n_conn = block.step_index.size, self.n_connection
        if out is None:
            out = np.empty((n_step, n_conn), dtype=np.dtype(dtype))
        elif out.shape != (n_step, n_conn) or not out.flags.c_contiguous or out.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"out must be a C-contiguous float32/float64 array of shape {(n_step, n_conn)} "
                f"(got {out.dtype} {out.shape}); or leave it out"
            )
        conn_key = self._conn_key
        for rng, start, stop in zip(rngs, self._group_edges[:-1], self._group_edges[1:]):
            conn_key[start:stop] = np.uint64(rng.integers(0, 2**63 - 1, dtype=np.int64))
        noise_pool = _noise_pool(float(noise.noise_sd), float(np.exp(-block.dt_h / noise.noise_tau_h)))
        n_noise = noise_pool.size
        if n_step > n_noise:  # blocks longer than the pool read it cyclically
            noise_pool = np.resize(noise_pool, n_noise + n_step)
        _household_kernel(
            out, block.day_table, block.step_index, block.step_frac, block.day_idx, block.day_scale, self.shift_off,
            self.mean_kw, conn_key, self.conn_index, self.day_factor, noise_pool, n_noise,
            _event_pool(self.event_shape), *_event_columns(self.event_shape), float(noise.event_share),
            float(noise.event_kwh), self.event_shape, block.dt_h, *self._work, self._seg_start,
            *((self._tile_seg, self._segment_sums(n_step)) if group_total_kw is not None
              else (self._no_tile_seg, np.empty((0, n_step)))),
        )
        if group_total_kw is not None:
            self._group_totals(out, group_total_kw)
        return out

    def _segment_sums(self, n_step: int) -> np.ndarray:
        """The kernel's sums per segment and step, ``[n_segment, n_step]`` (reused while `n_step` stays)."""
        if self._seg_sum.shape[1] != n_step:
            self._seg_sum = np.empty((self._seg_start.size - 1, n_step))
        return self._seg_sum

    def _group_totals(self, out: np.ndarray, group_total_kw: np.ndarray) -> None:
        """Each group's demand per step from the segments' sums, plus the columns the kernel left to
        `_household_column` (business-sized connections)."""
        n_step = out.shape[0]
        if group_total_kw.shape != (self.group_sizes.size, n_step):
            raise ValueError(f"group_total_kw must have shape {(self.group_sizes.size, n_step)}, "
                             f"got {group_total_kw.shape}")
        for g, (first, last) in enumerate(zip(self._group_seg[:-1], self._group_seg[1:])):
            group_total_kw[g] = self._seg_sum[first:last].sum(axis=0)
        exact = self._work[3]
        for i in np.flatnonzero(exact):
            group_total_kw[np.searchsorted(self._group_edges, i, side="right") - 1] += out[:, i]


def _checked_annual_kwh(annual_kwh) -> np.ndarray:
    """`annual_kwh` as a 1-d float array of finite values >= 0, or a ValueError."""
    annual_kwh = np.atleast_1d(np.asarray(annual_kwh, dtype=float))
    if annual_kwh.ndim != 1 or np.any(~np.isfinite(annual_kwh)) or np.any(annual_kwh < 0):
        raise ValueError(
            f"annual_kwh must be a 1-d array of finite values >= 0 [kWh] (got shape {annual_kwh.shape}, "
            f"min {np.nanmin(annual_kwh) if annual_kwh.size else 'n/a'})"
        )
    return annual_kwh

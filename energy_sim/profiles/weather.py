"""Weather for the profiles stage: a synthetic Twente year and file importers.

Every array of a :class:`Weather` holds one value per time step.  A value at
timestamp ``t`` is the **mean over the interval [t, t + dt)** (pandas' left
label); solar geometry is therefore evaluated at interval midpoints
(:func:`interval_midpoints_utc`).

Three sources give the same :class:`Weather`:

* :func:`synthetic_weather` -- an embedded default climate for KNMI station 290
  Twenthe that needs no download, built from documented climatology with a
  seeded stochastic process.  The weather of a timestamp depends only on
  ``(seed, timestamp)``, never on the horizon's length.
* :func:`read_knmi_uurgeg` -- KNMI hourly station files (``uurgeg_290_*.txt``).
* :func:`read_weather_csv` / :func:`read_weather_netcdf` -- tables with the
  column names of :class:`Weather`.

Hourly data are resampled to any target resolution: irradiance conserving the
hourly energy (shaped within the hour by the sun's elevation, so no light
before sunrise), temperature, wind and pressure by linear interpolation in time.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
from scipy import signal, special

__all__ = [
    "GapFill",
    "Weather",
    "WeatherError",
    "interval_midpoints_utc",
    "read_knmi_uurgeg",
    "read_weather_csv",
    "read_weather_netcdf",
    "solar_position",
    "synthetic_weather",
]

#: KNMI station 290 Twenthe [deg N, deg E, m] (KNMI station list; hengelo.md).
TWENTHE_LATITUDE_DEG = 52.274
TWENTHE_LONGITUDE_DEG = 6.891
TWENTHE_ALTITUDE_M = 34.0

#: Default time step when it cannot be inferred from a one-element index
#: (DESIGN.md: the simulator's native resolution is 15 minutes).
DEFAULT_STEP = pd.Timedelta(minutes=15)

_FIELDS = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "t_amb_degc", "wind_speed_10m_m_s", "pressure_pa")


class WeatherError(ValueError):
    """A weather file or array is unusable; the message names file, column and time."""


class GapFill(StrEnum):
    """How importers treat missing values (``fill_gaps=None`` reports them)."""

    interpolate = "interpolate"  # linear in time, up to ``max_gap_h``


@dataclass(frozen=True, eq=False)
class Weather:
    """Weather over a horizon, one value per time step (mean over [t, t + dt)).

    ``eq=False`` keeps identity hashing so that derived quantities (solar
    position) can be cached per Weather object.

    Attributes
    ----------
    time_utc : pandas.DatetimeIndex
        Interval starts, timezone-aware UTC.
    ghi_w_m2, dni_w_m2, dhi_w_m2 : numpy.ndarray
        Global horizontal, direct normal and diffuse horizontal irradiance [W/m²].
    t_amb_degc : numpy.ndarray
        Air temperature at 1.5 m [°C].
    wind_speed_10m_m_s : numpy.ndarray
        Wind speed at 10 m [m/s].
    pressure_pa : numpy.ndarray
        Station-level air pressure [Pa].
    latitude_deg, longitude_deg : float
        Site position [deg N, deg E].
    altitude_m : float
        Site altitude above sea level [m].
    source : str
        Where the data came from (file path or generator and seed).
    """

    time_utc: pd.DatetimeIndex
    ghi_w_m2: np.ndarray
    dni_w_m2: np.ndarray
    dhi_w_m2: np.ndarray
    t_amb_degc: np.ndarray
    wind_speed_10m_m_s: np.ndarray
    pressure_pa: np.ndarray
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    source: str

    def __post_init__(self) -> None:
        time_utc = self.time_utc
        if not isinstance(time_utc, pd.DatetimeIndex) or time_utc.tz is None:
            raise WeatherError(
                f"Weather from {self.source}: time_utc must be a timezone-aware "
                f"pandas.DatetimeIndex (got {type(time_utc).__name__} tz={getattr(time_utc, 'tz', None)})"
            )
        object.__setattr__(self, "time_utc", time_utc.tz_convert("UTC"))
        n_step = len(time_utc)
        for name in _FIELDS:
            arr = np.array(getattr(self, name), dtype=np.float64)  # own read-only copy
            if arr.shape != (n_step,):
                raise WeatherError(
                    f"Weather from {self.source}: {name} has shape {arr.shape}, expected ({n_step},)"
                )
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def step(self) -> pd.Timedelta:
        """Length of one time step (inferred from ``time_utc``)."""
        return _infer_step(self.time_utc)

    @property
    def dt_h(self) -> float:
        """Length of one time step [h]."""
        return self.step / pd.Timedelta(hours=1)


# --------------------------------------------------------------------------- time helpers


def _infer_step(time_utc: pd.DatetimeIndex) -> pd.Timedelta:
    if time_utc.freq is not None:
        return pd.Timedelta(time_utc.freq)
    if len(time_utc) > 1:
        return pd.Timedelta(np.median(np.diff(time_utc.asi8)), unit="ns")
    return DEFAULT_STEP


def interval_midpoints_utc(time_utc: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Midpoints of the intervals [t, t + dt) labelled by ``time_utc``.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Interval starts, timezone-aware.

    Returns
    -------
    pandas.DatetimeIndex
        ``time_utc + dt / 2`` in UTC, with ``dt`` from the index frequency, the
        median spacing, or 15 min for a single timestamp.
    """
    return pd.DatetimeIndex(time_utc.tz_convert("UTC") + _infer_step(time_utc) / 2)


def _check_time(time_utc: pd.DatetimeIndex, what: str) -> pd.DatetimeIndex:
    if not isinstance(time_utc, pd.DatetimeIndex) or time_utc.tz is None:
        raise WeatherError(
            f"{what}: time_utc must be a timezone-aware pandas.DatetimeIndex, e.g. "
            f"pd.date_range('2025-01-01', periods=96, freq='15min', tz='UTC')"
        )
    if len(time_utc) == 0:
        raise WeatherError(f"{what}: time_utc is empty")
    return time_utc.tz_convert("UTC")


# --------------------------------------------------------------------------- solar position cache

_SOLPOS_CACHE: "weakref.WeakKeyDictionary[Weather, pd.DataFrame]" = weakref.WeakKeyDictionary()


def _solar_position_at(mid_utc: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float,
                       altitude_m: float) -> pd.DataFrame:
    # pvlib's 'ephemeris' method is ~8x faster than NREL SPA; over a Twente year at
    # 15 min it agrees with SPA ('nrel_numpy') to < 0.012 deg in zenith and azimuth
    # (measured), far below what matters for PV energy.
    return pvlib.solarposition.get_solarposition(
        mid_utc, latitude_deg, longitude_deg, altitude_m, method="ephemeris"
    )


def solar_position(weather: Weather) -> pd.DataFrame:
    """Solar position at the interval midpoints of ``weather``, cached per object.

    Parameters
    ----------
    weather : Weather
        Weather whose time axis and site are used.

    Returns
    -------
    pandas.DataFrame
        pvlib columns ``apparent_zenith``, ``zenith``, ``azimuth`` ... [deg],
        indexed by interval midpoints.  Computed once per Weather object
        (cache keyed on identity, released with the object).
    """
    cached = _SOLPOS_CACHE.get(weather)
    if cached is None:
        cached = _solar_position_at(
            interval_midpoints_utc(weather.time_utc),
            weather.latitude_deg, weather.longitude_deg, weather.altitude_m,
        )
        _SOLPOS_CACHE[weather] = cached
    return cached


def _decompose_erbs(ghi_w_m2: np.ndarray, solpos: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """DNI and DHI from GHI with the Erbs et al. (1982) correlation (pvlib.irradiance.erbs)."""
    out = pvlib.irradiance.erbs(ghi_w_m2, solpos["zenith"].to_numpy(), solpos.index.dayofyear.to_numpy())
    dni = np.nan_to_num(np.asarray(out["dni"], dtype=np.float64))
    dhi = np.nan_to_num(np.asarray(out["dhi"], dtype=np.float64))
    return np.clip(dni, 0.0, None), np.clip(dhi, 0.0, None)


# --------------------------------------------------------------------------- climatology

# The climate is that of the KNMI 1971-2000 normals for De Bilt, the period of
# hengelo.md's figures: 9.8 °C annual mean, 347 kJ/cm² = 964 kWh/m² of global
# irradiation, 3,075 heating degree days (base 18 °C), winter (DJF) 3.3 °C,
# summer (JJA) 16.6 °C (KNMI via CLO indicator nl000411). The annual totals and
# the degree days are tested (tests/profiles/test_weather.py); the monthly
# shapes below are rounded values from memory of the KNMI tables (ASSUMPTION,
# within the tested totals). The 1991-2020 normals are warmer in winter (De
# Bilt January 3.6 °C, February 3.9 °C, March 6.5 °C; KNMI as reported by
# Vroege Vogels, March 2023), so the default year errs on the cold side: heat-
# pump peaks are, if anything, overstated for today's climate. Runs that need
# a recent year read KNMI hourly files (read_knmi_uurgeg).

#: Monthly global irradiation on a horizontal plane [kWh/m² per month], Jan..Dec,
#: summing to ~964 kWh/m² (De Bilt 1971-2000; Twenthe within a few per cent).
GHI_MONTHLY_KWH_M2 = np.array([20, 35, 71, 112, 141, 144, 143, 124, 85, 51, 23, 15], dtype=float)

#: Monthly mean air temperature at Twenthe [°C], Jan..Dec; annual mean 9.8 °C
#: (De Bilt 1971-2000, hengelo.md).  Rounded.
T_MONTHLY_DEGC = np.array([2.6, 3.0, 5.8, 9.3, 13.0, 15.8, 17.8, 17.4, 14.0, 10.1, 6.0, 3.2])

#: Mean daily temperature range (Tmax - Tmin) [K], Jan..Dec; typical inland
#: Dutch values (KNMI normals: ~5 K in winter, ~10 K in May-August).
T_RANGE_MONTHLY_K = np.array([5.0, 6.0, 7.5, 9.5, 10.0, 10.0, 10.0, 9.5, 8.5, 7.0, 5.5, 4.5])

#: Standard deviation of the slow (synoptic) temperature anomaly [K], Jan..Dec.
#: Dutch daily-mean temperatures vary by ~4 K around the monthly mean in winter
#: and ~2.5-3 K in summer (KNMI daily series De Bilt); this gives cold spells
#: below -5 °C in most winters and below -10 °C in some.
T_SIGMA_MONTHLY_K = np.array([4.2, 4.2, 3.5, 3.0, 2.8, 2.8, 2.9, 2.8, 2.5, 2.8, 3.2, 4.0])

#: Monthly mean 10 m wind speed at Twenthe [m/s], Jan..Dec; annual mean 4.2 m/s
#: (KNMI climate normals for Twenthe give an annual mean of about 4 m/s at 10 m;
#: inland values are 3.5-4.5 m/s, winter windier than summer).  Rounded.
WIND_MONTHLY_M_S = np.array([4.9, 4.8, 4.7, 4.2, 3.9, 3.7, 3.6, 3.5, 3.7, 4.1, 4.4, 4.8])

#: Weibull shape of hourly 10 m wind speeds inland in the Netherlands
#: (k ≈ 1.8-2.0; Wieringa & Rijkoort 1983, "Windklimaat van Nederland").
WIND_WEIBULL_SHAPE = 1.9

#: Relative amplitude of the diurnal 10 m wind cycle, Jan..Dec (daytime maximum
#: from convective mixing; strong in summer, weak in winter -- Wieringa &
#: Rijkoort 1983).
WIND_DIURNAL_AMPLITUDE_FRAC = np.array([0.08, 0.10, 0.15, 0.22, 0.25, 0.25, 0.25, 0.23, 0.18, 0.13, 0.09, 0.07])

#: Mean sea-level pressure in the Netherlands [Pa] and the standard deviation
#: of its synoptic variation [Pa] (KNMI normals: ~1015 hPa, ~10 hPa).
MSLP_MEAN_PA = 101_500.0
MSLP_SIGMA_PA = 1_000.0

#: Concentration (a + b) of the Beta distribution of the hourly clear-sky index;
#: 2.2 gives the broad, two-humped distribution (overcast ~0.3, clear ~1) seen in
#: Dutch hourly data.  Upper bound 1.1 allows cloud enhancement.
KC_BETA_CONCENTRATION = 2.2
KC_MAX = 1.1

#: e-folding times of the latent AR(1) processes [h].  Synoptic systems pass in
#: 2-4 days (temperature 72 h, pressure 48 h), clouds change with fronts (36 h)
#: and convection (3 h), wind decorrelates in about a day (18 h).
TAU_CLOUD_SLOW_H = 36.0
TAU_CLOUD_FAST_H = 3.0
CLOUD_SLOW_WEIGHT = 0.8  # variance share 0.64 slow, 0.36 fast
TAU_T_H = 72.0
TAU_WIND_H = 18.0
TAU_P_H = 48.0

#: Hour of the daily temperature maximum in local solar time [h]
#: (~14-15 h solar time over land; a sinusoidal diurnal cycle is the usual
#: first approximation, e.g. Parton & Logan 1981).
T_MAX_SOLAR_HOUR = 14.0
WIND_MAX_SOLAR_HOUR = 14.0

_BLEND_H = 72  # cross-fade between consecutive generated years [h]
_LATENT = ("cloud", "t", "wind", "p")


def _clearsky_monthly_kwh_m2(latitude_deg: float, longitude_deg: float, altitude_m: float) -> np.ndarray:
    """Monthly Ineichen clear-sky GHI sums for a non-leap reference year [kWh/m²]."""
    t = pd.date_range("2019-01-01", "2020-01-01", freq="1h", inclusive="left", tz="UTC")
    mid = t + pd.Timedelta(minutes=30)
    cs = _clearsky(mid, latitude_deg, longitude_deg, altitude_m,
                   _solar_position_at(mid, latitude_deg, longitude_deg, altitude_m))
    return np.bincount(t.month - 1, weights=cs) / 1000.0


_KC_MEAN_CACHE: dict[tuple[float, float, float], np.ndarray] = {}


def _kc_monthly_mean(latitude_deg: float, longitude_deg: float, altitude_m: float) -> np.ndarray:
    # Mean clear-sky index per month = climatological / clear-sky irradiation.
    # The cloud process is independent of time of day, so E[kc * GHI_cs] =
    # E[kc] * E[GHI_cs] and the monthly totals are met in expectation.
    key = (latitude_deg, longitude_deg, altitude_m)
    if key not in _KC_MEAN_CACHE:
        cs = _clearsky_monthly_kwh_m2(*key)
        _KC_MEAN_CACHE[key] = np.clip(GHI_MONTHLY_KWH_M2 / cs, 0.05, 0.95)
    return _KC_MEAN_CACHE[key]


def _clearsky(mid_utc: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float,
              altitude_m: float, solpos: pd.DataFrame) -> np.ndarray:
    """Ineichen-Perez clear-sky GHI [W/m²] with the climatological Linke turbidity.

    pvlib.clearsky.lookup_linke_turbidity reads the monthly Remund et al. (2003)
    / SoDa climatology bundled with pvlib (LinkeTurbidities.h5), so it works
    offline; values are interpolated to the day of year.
    """
    lt = pvlib.clearsky.lookup_linke_turbidity(mid_utc, latitude_deg, longitude_deg).to_numpy()
    am_rel = pvlib.atmosphere.get_relative_airmass(solpos["apparent_zenith"].to_numpy())
    am_abs = pvlib.atmosphere.get_absolute_airmass(am_rel, pvlib.atmosphere.alt2pres(altitude_m))
    dni_extra = pvlib.irradiance.get_extra_radiation(mid_utc).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # night: airmass is NaN/inf
        cs = pvlib.clearsky.ineichen(solpos["apparent_zenith"].to_numpy(), am_abs, lt,
                                     altitude=altitude_m, dni_extra=dni_extra)
    return np.nan_to_num(np.asarray(cs["ghi"], dtype=np.float64))


def _monthly_smooth(values_12: np.ndarray, doy_frac: np.ndarray) -> np.ndarray:
    """Periodic linear interpolation of 12 mid-month values to fractional day of year."""
    mid_doy = (np.arange(12) + 0.5) * 365.25 / 12.0
    xp = np.concatenate([[mid_doy[-1] - 365.25], mid_doy, [mid_doy[0] + 365.25]])
    fp = np.concatenate([[values_12[-1]], values_12, [values_12[0]]])
    return np.interp(doy_frac, xp, fp)


def _ar1_unit(rng: np.random.Generator, n: int, tau_h: float) -> np.ndarray:
    """Stationary AR(1) series with unit variance and e-folding time ``tau_h`` (hourly)."""
    phi = np.exp(-1.0 / tau_h)
    e = rng.standard_normal(n) * np.sqrt(1.0 - phi**2)
    z0 = rng.standard_normal()
    out, _ = signal.lfilter([1.0], [1.0, -phi], e, zi=[phi * z0])
    return out


def _year_latents(seed: int, year: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Unit-variance latent processes on hourly knots for one calendar year.

    The knots span [1 Jan year - 36 h, 1 Jan year+1 + 36 h] so consecutive
    years can be cross-faded.  Returns (knot times [ns since epoch], latents).
    """
    rng = np.random.default_rng([seed, year])
    start = pd.Timestamp(year=year, month=1, day=1, tz="UTC") - pd.Timedelta(hours=_BLEND_H // 2)
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC") + pd.Timedelta(hours=_BLEND_H // 2)
    n = int((end - start) / pd.Timedelta(hours=1)) + 1
    knots_ns = start.value + np.arange(n, dtype=np.int64) * 3_600_000_000_000
    cloud = (CLOUD_SLOW_WEIGHT * _ar1_unit(rng, n, TAU_CLOUD_SLOW_H)
             + np.sqrt(1.0 - CLOUD_SLOW_WEIGHT**2) * _ar1_unit(rng, n, TAU_CLOUD_FAST_H))
    latents = {
        "cloud": cloud,
        "t": _ar1_unit(rng, n, TAU_T_H),
        "wind": _ar1_unit(rng, n, TAU_WIND_H),
        "p": _ar1_unit(rng, n, TAU_P_H),
    }
    # Each synthetic year is a *typical* year (in the spirit of a TMY): centring
    # and scaling the latents over the year removes the sampling spread of the
    # annual means (~5 % in irradiation for these time constants), so every
    # seed meets the climatological totals; months and days still vary.
    # Year-to-year variability of real years comes from KNMI files.
    latents = {k: (v - v.mean()) / v.std() for k, v in latents.items()}
    # Clouds are centred per calendar month so each month meets its irradiation
    # normal; the offsets change at 00 UTC, in the dark.
    month = pd.DatetimeIndex(knots_ns, tz="UTC").month.to_numpy() - 1
    cnt = np.bincount(month, minlength=12)
    mu = np.bincount(month, weights=latents["cloud"], minlength=12) / np.maximum(cnt, 1)
    sd = np.sqrt(np.bincount(month, weights=latents["cloud"] ** 2, minlength=12) / np.maximum(cnt, 1) - mu**2)
    latents["cloud"] = (latents["cloud"] - mu[month]) / np.where(sd > 0, sd, 1.0)[month]
    return knots_ns, latents


def _latents_at(seed: int, t_ns: np.ndarray) -> dict[str, np.ndarray]:
    """Latent processes at arbitrary times, depending only on (seed, time).

    Each calendar year is generated from ``default_rng([seed, year])``; around
    new year the two years are cross-faded over 72 h with variance-preserving
    weights, so the series is continuous and horizon-independent.
    """
    years_ts = pd.DatetimeIndex(t_ns, tz="UTC").year
    y_min, y_max = int(years_ts.min()), int(years_ts.max())
    acc = {k: np.zeros_like(t_ns, dtype=np.float64) for k in _LATENT}
    w2 = np.zeros_like(t_ns, dtype=np.float64)
    half_ns = _BLEND_H / 2 * 3.6e12
    for year in range(y_min - 1, y_max + 2):  # one loop step per calendar year, not per time step
        y0 = pd.Timestamp(year=year, month=1, day=1, tz="UTC").value
        y1 = pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC").value
        w = (np.clip((t_ns - (y0 - half_ns)) / (2 * half_ns), 0.0, 1.0)
             * np.clip(((y1 + half_ns) - t_ns) / (2 * half_ns), 0.0, 1.0))
        if not np.any(w > 0):
            continue
        knots_ns, lat = _year_latents(seed, year)
        x = (t_ns - knots_ns[0]) / 3.6e12
        for k in _LATENT:
            acc[k] += w * np.interp(x, np.arange(len(knots_ns)), lat[k])
        w2 += w**2
    norm = np.sqrt(w2)
    return {k: acc[k] / norm for k in _LATENT}


def synthetic_weather(
    time_utc: pd.DatetimeIndex,
    *,
    seed: int,
    latitude_deg: float = TWENTHE_LATITUDE_DEG,
    longitude_deg: float = TWENTHE_LONGITUDE_DEG,
    altitude_m: float = TWENTHE_ALTITUDE_M,
) -> Weather:
    """Synthetic Twente weather from climatology and a seeded stochastic process.

    Deterministic parts (clear-sky irradiance, seasonal and daily cycles) are
    evaluated at each interval midpoint; stochastic parts come from
    unit-variance AR(1) processes on hourly knots generated per calendar year
    from ``np.random.default_rng([seed, year])`` and interpolated in time, so
    a timestamp's weather depends only on ``(seed, timestamp)``.

    * GHI = clear-sky index × Ineichen clear-sky GHI (pvlib, climatological
      Linke turbidity).  The clear-sky index is a Beta variate on [0, 1.1]
      (Gaussian copula of the cloud process) whose monthly mean reproduces
      :data:`GHI_MONTHLY_KWH_M2` (annual ≈ 964 kWh/m²).
    * DNI, DHI from GHI by the Erbs et al. (1982) decomposition (pvlib).
    * Temperature = monthly mean + synoptic AR(1) anomaly + sinusoidal diurnal
      cycle whose amplitude grows on clear days (annual mean ≈ 9.8 °C).
    * 10 m wind = Weibull (k = 1.9) quantile of an AR(1) process, scaled to
      monthly means, with a daytime maximum (annual mean ≈ 4.2 m/s).
    * Pressure = barometric station pressure + synoptic AR(1) variation.

    Parameters
    ----------
    time_utc : pandas.DatetimeIndex
        Interval starts, timezone-aware; any resolution, any years.
    seed : int
        Seed of the weather; the same seed gives the same weather.
    latitude_deg, longitude_deg : float
        Site [deg N, deg E]; default KNMI station 290 Twenthe.
    altitude_m : float
        Site altitude [m].

    Returns
    -------
    Weather
        Interval-mean weather on ``time_utc``.
    """
    time_utc = _check_time(time_utc, "synthetic_weather")
    mid = interval_midpoints_utc(time_utc)
    t_ns = mid.asi8.astype(np.float64)
    lat = _latents_at(int(seed), t_ns)

    doy_frac = (mid.dayofyear - 1).to_numpy() + (mid.hour + mid.minute / 60.0).to_numpy() / 24.0
    solar_hour = ((mid.hour + mid.minute / 60.0 + mid.second / 3600.0).to_numpy() + longitude_deg / 15.0) % 24.0

    solpos = _solar_position_at(mid, latitude_deg, longitude_deg, altitude_m)

    # --- irradiance
    kc_mean = _kc_monthly_mean(latitude_deg, longitude_deg, altitude_m)
    # Calendar-month steps (not smoothed) so each month meets its own normal;
    # month changes fall at 00 UTC when the sun is down, so no jump is visible.
    m = kc_mean[mid.month.to_numpy() - 1] / KC_MAX
    a = KC_BETA_CONCENTRATION * m
    b = KC_BETA_CONCENTRATION * (1.0 - m)
    u = np.clip(special.ndtr(lat["cloud"]), 1e-9, 1 - 1e-9)
    kc = KC_MAX * special.betaincinv(a, b, u)
    ghi = kc * _clearsky(mid, latitude_deg, longitude_deg, altitude_m, solpos)
    dni, dhi = _decompose_erbs(ghi, solpos)

    # --- temperature: clear days have a larger daily range (positive cloud latent = clearer)
    range_k = _monthly_smooth(T_RANGE_MONTHLY_K, doy_frac) * np.clip(1.0 + 0.5 * lat["cloud"], 0.3, 1.8)
    diurnal = 0.5 * range_k * np.cos(2 * np.pi * (solar_hour - T_MAX_SOLAR_HOUR) / 24.0)
    t_amb = (_monthly_smooth(T_MONTHLY_DEGC, doy_frac)
             + _monthly_smooth(T_SIGMA_MONTHLY_K, doy_frac) * lat["t"] + diurnal)

    # --- wind: Weibull quantile, scale from the mean: mean = c * Gamma(1 + 1/k)
    uw = np.clip(special.ndtr(lat["wind"]), 1e-9, 1 - 1e-9)
    weib = (-np.log1p(-uw)) ** (1.0 / WIND_WEIBULL_SHAPE) / special.gamma(1.0 + 1.0 / WIND_WEIBULL_SHAPE)
    amp = _monthly_smooth(WIND_DIURNAL_AMPLITUDE_FRAC, doy_frac)
    wind = (_monthly_smooth(WIND_MONTHLY_M_S, doy_frac) * weib
            * (1.0 + amp * np.cos(2 * np.pi * (solar_hour - WIND_MAX_SOLAR_HOUR) / 24.0)))

    # --- pressure: barometric reduction of the sea-level mean (pvlib.atmosphere.alt2pres ratio)
    p_station = (MSLP_MEAN_PA + MSLP_SIGMA_PA * lat["p"]) * (
        pvlib.atmosphere.alt2pres(altitude_m) / pvlib.atmosphere.alt2pres(0.0))

    weather = Weather(
        time_utc=time_utc, ghi_w_m2=ghi, dni_w_m2=dni, dhi_w_m2=dhi, t_amb_degc=t_amb,
        wind_speed_10m_m_s=wind, pressure_pa=p_station, latitude_deg=float(latitude_deg),
        longitude_deg=float(longitude_deg), altitude_m=float(altitude_m),
        source=f"synthetic Twente climatology (energy_sim.profiles.weather), seed={seed}",
    )
    _SOLPOS_CACHE[weather] = solpos
    return weather


# --------------------------------------------------------------------------- validation and gaps


def _check_units(path: str, time_src: pd.DatetimeIndex, data: dict[str, np.ndarray],
                 labels: dict[str, str] | None = None) -> None:
    """Reject values that betray a wrong unit; name column, value and first timestamp."""
    rules = {
        # column: (low, high, hint)
        "t_amb_degc": (-60.0, 60.0, "temperatures must be in °C; values near 273 look like Kelvin"),
        "ghi_w_m2": (-10.0, 1500.0, "irradiance must be in W/m² (interval mean)"),
        "dni_w_m2": (-10.0, 1500.0, "irradiance must be in W/m² (interval mean)"),
        "dhi_w_m2": (-10.0, 1000.0, "irradiance must be in W/m² (interval mean)"),
        "wind_speed_10m_m_s": (0.0, 75.0, "wind speed must be in m/s"),
        "pressure_pa": (50_000.0, 110_000.0, "pressure must be in Pa; values near 1000 look like hPa"),
    }
    for col, (lo, hi, hint) in rules.items():
        if col not in data:
            continue
        v = data[col]
        bad = np.flatnonzero((v < lo) | (v > hi))
        if bad.size:
            i = bad[0]
            raise WeatherError(
                f"{path}: column {(labels or {}).get(col, col)} has {bad.size} value(s) outside "
                f"[{lo:g}, {hi:g}], first "
                f"{v[i]:g} at {time_src[i]:%Y-%m-%d %H:%M} UTC; {hint}"
            )


def _fill_gaps(path: str, time_src: pd.DatetimeIndex, data: dict[str, np.ndarray],
               fill_gaps: GapFill | str | None, max_gap_h: float, dt_h: float,
               labels: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Report or interpolate NaN runs in each column."""
    if fill_gaps is not None:
        try:
            fill_gaps = GapFill(fill_gaps)
        except ValueError:
            raise WeatherError(
                f"{path}: fill_gaps must be None or one of {[g.value for g in GapFill]} (got {fill_gaps!r})"
            ) from None
    out = {}
    for key, v in data.items():
        col = (labels or {}).get(key, key)
        nan = np.isnan(v)
        if not nan.any():
            out[key] = v
            continue
        first = time_src[np.flatnonzero(nan)[0]]
        if fill_gaps is None:
            raise WeatherError(
                f"{path}: column {col} has {int(nan.sum())} missing value(s), first at "
                f"{first:%Y-%m-%d %H:%M} UTC; pass fill_gaps='interpolate' (max_gap_h="
                f"{max_gap_h:g}) to interpolate short gaps"
            )
        # run lengths of NaN stretches
        edges = np.diff(np.concatenate([[0], nan.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        run_h = (ends - starts) * dt_h
        too_long = np.flatnonzero(run_h > max_gap_h)
        if too_long.size:
            j = too_long[0]
            raise WeatherError(
                f"{path}: column {col} has a gap of {run_h[j]:g} h starting "
                f"{time_src[starts[j]]:%Y-%m-%d %H:%M} UTC, longer than max_gap_h={max_gap_h:g}"
            )
        if starts[0] == 0 or ends[-1] == len(v):
            where = time_src[0] if starts[0] == 0 else time_src[starts[-1]]
            raise WeatherError(
                f"{path}: column {col} is missing at the edge of the file ({where:%Y-%m-%d %H:%M} "
                f"UTC); gaps can only be interpolated between two valid values"
            )
        x = np.arange(len(v), dtype=np.float64)
        out[key] = np.where(nan, np.interp(x, x[~nan], v[~nan]), v)
    return out


def _regularise(path: str, time_src: pd.DatetimeIndex, data: dict[str, np.ndarray]
                ) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray], pd.Timedelta]:
    """Sort, reject duplicates and reindex onto a complete regular grid (missing rows -> NaN)."""
    if time_src.has_duplicates:
        dup = time_src[time_src.duplicated()][0]
        raise WeatherError(f"{path}: duplicate timestamp {dup:%Y-%m-%d %H:%M} UTC")
    order = np.argsort(time_src.asi8)
    time_src = time_src[order]
    data = {k: v[order] for k, v in data.items()}
    if len(time_src) < 2:
        raise WeatherError(f"{path}: needs at least two time steps (got {len(time_src)})")
    step = pd.Timedelta(np.min(np.diff(time_src.asi8)), unit="ns")
    full = pd.date_range(time_src[0], time_src[-1], freq=step)
    if len(full) != len(time_src):
        pos = full.get_indexer(time_src)
        if (pos < 0).any():
            bad = time_src[np.flatnonzero(pos < 0)[0]]
            raise WeatherError(f"{path}: timestamp {bad:%Y-%m-%d %H:%M} UTC is off the {step} grid")
        filled = {}
        for k, v in data.items():
            f = np.full(len(full), np.nan)
            f[pos] = v
            filled[k] = f
        data, time_src = filled, full
    return time_src, data, step


# --------------------------------------------------------------------------- resampling


def _energy_resample(src_start_ns: np.ndarray, src_dt_ns: float, values: np.ndarray,
                     tgt_start_ns: np.ndarray, tgt_dt_ns: float) -> np.ndarray:
    """Interval means on a new grid that conserve the integral (piecewise-constant source)."""
    edges = np.concatenate([src_start_ns, [src_start_ns[-1] + src_dt_ns]]).astype(np.float64)
    cum = np.concatenate([[0.0], np.cumsum(values * src_dt_ns)])
    c0 = np.interp(tgt_start_ns, edges, cum)
    c1 = np.interp(tgt_start_ns + tgt_dt_ns, edges, cum)
    return (c1 - c0) / tgt_dt_ns


def _sun_shape_within_source(time_src: pd.DatetimeIndex, step_src: pd.Timedelta,
                             time_utc: pd.DatetimeIndex, step_tgt: pd.Timedelta,
                             latitude_deg: float, longitude_deg: float, altitude_m: float,
                             ) -> tuple[np.ndarray, np.ndarray] | None:
    """Energy-conserving weights that shape a coarse irradiance mean within its interval.

    When the target steps subdivide the source steps (e.g. 15 min in 1 h),
    an hourly mean is spread over its sub-intervals in proportion to
    max(cos θz, 0) at their midpoints -- the shape of extraterrestrial
    horizontal irradiance -- instead of uniformly.  The weights of the n
    sub-intervals of a source interval average to 1, so the source energy is
    kept exactly; the sub-intervals before sunrise and after sunset get no
    light.  DNI uses the sun-up indicator instead.  Where the sun is down for a
    whole source interval, the weights are uniform.  Weights are computed
    over complete source intervals so they do not depend on the horizon.

    Returns None when the grids are not nested (then irradiance stays
    piecewise constant within each source interval).
    """
    src_dt, tgt_dt = step_src.value, step_tgt.value
    if tgt_dt >= src_dt or src_dt % tgt_dt:
        return None
    off = time_utc.asi8 - time_src.asi8[0]
    if np.any(off % tgt_dt) or np.any(np.diff(time_utc.asi8) != tgt_dt):
        return None
    n_sub = src_dt // tgt_dt
    k = off // src_dt  # source interval of each target step
    j = (off - k * src_dt) // tgt_dt  # position inside it
    k_unique, k_pos = np.unique(k, return_inverse=True)
    sub_start = (time_src.asi8[0] + k_unique[:, None] * src_dt + np.arange(n_sub)[None, :] * tgt_dt
                 + tgt_dt // 2)
    mid = pd.DatetimeIndex(sub_start.ravel(), tz="UTC")
    zen = _solar_position_at(mid, latitude_deg, longitude_deg, altitude_m)["zenith"].to_numpy()
    cosz = np.clip(np.cos(np.radians(zen)), 0.0, None).reshape(len(k_unique), n_sub)
    up = (cosz > 0).astype(np.float64)

    def weights(x: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=1, keepdims=True)
        w = np.where(mean > 0, x / np.where(mean > 0, mean, 1.0), 1.0)
        return w[k_pos, j]

    return weights(cosz), weights(up)


def _to_weather(path: str, time_src: pd.DatetimeIndex, step_src: pd.Timedelta,
                interval: dict[str, np.ndarray], point: dict[str, tuple[np.ndarray, np.ndarray]],
                time_utc: pd.DatetimeIndex | None, latitude_deg: float, longitude_deg: float,
                altitude_m: float) -> Weather:
    """Resample to ``time_utc`` and build a Weather.

    ``interval`` holds interval means over [t, t + step) (energy-conserving
    resampling); ``point`` maps a column to (sample times [ns], values),
    linearly interpolated to the target interval midpoints.
    """
    src_end = time_src[-1] + step_src
    if time_utc is None:
        time_utc = pd.date_range(time_src[0], periods=len(time_src), freq=step_src)
    time_utc = _check_time(time_utc, f"{path}")
    step_tgt = _infer_step(time_utc)
    if time_utc[0] < time_src[0] or time_utc[-1] + step_tgt > src_end:
        raise WeatherError(
            f"{path}: covers {time_src[0]:%Y-%m-%d %H:%M} to {src_end:%Y-%m-%d %H:%M} UTC but the "
            f"horizon needs {time_utc[0]:%Y-%m-%d %H:%M} to {time_utc[-1] + step_tgt:%Y-%m-%d %H:%M} UTC"
        )
    tgt_ns = time_utc.asi8.astype(np.float64)
    mid_ns = tgt_ns + step_tgt.value / 2
    out = {k: _energy_resample(time_src.asi8.astype(np.float64), float(step_src.value), v,
                               tgt_ns, float(step_tgt.value))
           for k, v in interval.items()}
    for k, (t_ns, v) in point.items():
        out[k] = np.interp(mid_ns, t_ns.astype(np.float64), v)
    shape = _sun_shape_within_source(time_src, step_src, time_utc, step_tgt,
                                     latitude_deg, longitude_deg, altitude_m)
    if shape is not None:
        w_cos, w_up = shape
        for k in ("ghi_w_m2", "dhi_w_m2"):
            if k in out:
                out[k] = out[k] * w_cos
        if "dni_w_m2" in out:
            out["dni_w_m2"] = out["dni_w_m2"] * w_up
    weather = Weather(
        time_utc=time_utc,
        ghi_w_m2=np.clip(out["ghi_w_m2"], 0.0, None),
        dni_w_m2=np.zeros(len(time_utc)) if "dni_w_m2" not in out else np.clip(out["dni_w_m2"], 0.0, None),
        dhi_w_m2=np.zeros(len(time_utc)) if "dhi_w_m2" not in out else np.clip(out["dhi_w_m2"], 0.0, None),
        t_amb_degc=out["t_amb_degc"], wind_speed_10m_m_s=np.clip(out["wind_speed_10m_m_s"], 0.0, None),
        pressure_pa=out["pressure_pa"], latitude_deg=float(latitude_deg),
        longitude_deg=float(longitude_deg), altitude_m=float(altitude_m), source=str(path),
    )
    if "dni_w_m2" not in out or "dhi_w_m2" not in out:
        dni, dhi = _decompose_erbs(weather.ghi_w_m2, solar_position(weather))
        object.__setattr__(weather, "dni_w_m2", dni)
        object.__setattr__(weather, "dhi_w_m2", dhi)
        dni.setflags(write=False)
        dhi.setflags(write=False)
    return weather


# --------------------------------------------------------------------------- KNMI uurgeg

_KNMI_COLUMNS = ("STN", "YYYYMMDD", "HH", "DD", "FH", "FF", "FX", "T", "T10N", "TD", "SQ", "Q",
                 "DR", "RH", "P", "VV", "N", "U", "WW", "IX", "M", "R", "S", "O", "Y")


def read_knmi_uurgeg(
    path: str | Path,
    time_utc: pd.DatetimeIndex | None = None,
    *,
    fill_gaps: GapFill | str | None = None,
    max_gap_h: float = 3.0,
    latitude_deg: float = TWENTHE_LATITUDE_DEG,
    longitude_deg: float = TWENTHE_LONGITUDE_DEG,
    altitude_m: float = TWENTHE_ALTITUDE_M,
) -> Weather:
    """Read a KNMI hourly station file (``uurgeg_<STN>_<years>.txt``).

    Format (KNMI uurgegevens): a free-text preamble (each line starting with
    ``#`` in KNMI's script download); the line starting ``STN,YYYYMMDD`` names
    the columns
    ``STN,YYYYMMDD,HH,DD,FH,FF,FX,T,T10N,TD,SQ,Q,DR,RH,P,VV,N,U,WW,IX,M,R,S,O,Y``;
    blank fields are missing.  ``HH`` (1-24) is the hour *ending* at HH UT.
    Used columns and their conversion:

    * ``Q``  global radiation in the hour [J/cm²] -> mean GHI = Q·10⁴/3600 [W/m²]
    * ``T``  temperature at 1.5 m at the observation time HH [0.1 °C]
    * ``FH`` hourly mean wind speed [0.1 m/s] (KNMI anemometer height, ~10 m)
    * ``P``  air pressure reduced to sea level [0.1 hPa]; converted back to
      station level with pvlib's barometric ratio (pvlib.atmosphere.alt2pres).  If the
      station has no ``P`` at all, the standard-atmosphere pressure at
      ``altitude_m`` is used (noted in ``source``).

    DNI and DHI are derived from GHI by the Erbs decomposition (pvlib).

    Parameters
    ----------
    path : str or Path
        The uurgeg text file.
    time_utc : pandas.DatetimeIndex, optional
        Target interval starts (UTC, any resolution).  Default: the file's hours.
    fill_gaps : GapFill or {None, 'interpolate'}
        ``None`` raises :class:`WeatherError` on any missing value; ``'interpolate'``
        fills gaps up to ``max_gap_h`` linearly.
    max_gap_h : float
        Longest gap that may be interpolated [h].
    latitude_deg, longitude_deg, altitude_m : float
        Station position [deg, deg, m]; default Twenthe (290).

    Returns
    -------
    Weather

    Raises
    ------
    WeatherError
        Missing columns, gaps, values in a wrong unit, horizon outside the file.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise WeatherError(f"{path}: cannot read KNMI file ({exc.strerror})") from exc
    header = None
    data_lines = []
    for line in lines:
        s = line.strip()
        body = s.lstrip("#").strip()
        if header is None:
            # KNMI files carry a free-text preamble (with or without '#', depending on
            # the download route); the column line is the one starting 'STN,YYYYMMDD'.
            if body.upper().replace(" ", "").startswith("STN,YYYYMMDD"):
                header = [c.strip().upper() for c in body.split(",")]
            continue
        if s and not s.startswith("#"):
            data_lines.append(s)
    if header is None:
        raise WeatherError(f"{path}: no column header line ('# STN,YYYYMMDD,HH,...') found; "
                           f"is this a KNMI uurgeg file?")
    for col in ("YYYYMMDD", "HH", "T", "FH", "Q"):
        if col not in header:
            raise WeatherError(f"{path}: KNMI column {col} is missing (header has {', '.join(header)})")
    if not data_lines:
        raise WeatherError(f"{path}: no data rows")
    rows = [ln.split(",") for ln in data_lines]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(header)), None)
    if bad is not None:
        raise WeatherError(f"{path}: data row {bad + 1} has {len(rows[bad])} fields, header has {len(header)}")
    table = np.array(rows, dtype=object)
    col = {name: table[:, i] for i, name in enumerate(header)}

    def num(name: str) -> np.ndarray:
        vals = pd.to_numeric(pd.Series(col[name]).str.strip().replace("", np.nan), errors="coerce")
        return vals.to_numpy(dtype=np.float64)

    day = pd.to_datetime(pd.Series(col["YYYYMMDD"]).str.strip(), format="%Y%m%d", utc=True)
    hh = num("HH")
    if np.isnan(hh).any() or (hh < 1).any() or (hh > 24).any():
        i = int(np.flatnonzero(np.isnan(hh) | (hh < 1) | (hh > 24))[0])
        raise WeatherError(f"{path}: column HH must be 1-24 (hour ending at HH UT), row {i + 1} has {col['HH'][i]!r}")
    # HH is the hour ending at HH UT: the interval starts at HH - 1
    time_src = pd.DatetimeIndex(day + pd.to_timedelta(hh - 1, unit="h"))

    data = {
        "ghi_w_m2": num("Q") * 1e4 / 3600.0,
        "t_amb_degc": num("T") / 10.0,
        "wind_speed_10m_m_s": num("FH") / 10.0,
    }
    p_note = ""
    p_ratio = pvlib.atmosphere.alt2pres(altitude_m) / pvlib.atmosphere.alt2pres(0.0)
    if "P" in header and not np.isnan(num("P")).all():
        data["pressure_pa"] = num("P") * 10.0 * p_ratio
    time_src, data, step = _regularise(str(path), time_src, data)
    if "pressure_pa" not in data:
        data["pressure_pa"] = np.full(len(time_src), pvlib.atmosphere.alt2pres(altitude_m))
        p_note = " (no P column: standard-atmosphere pressure used)"
    labels = {"ghi_w_m2": "Q (ghi_w_m2)", "t_amb_degc": "T (t_amb_degc)",
              "wind_speed_10m_m_s": "FH (wind_speed_10m_m_s)", "pressure_pa": "P (pressure_pa)"}
    data = _fill_gaps(str(path), time_src, data, fill_gaps, max_gap_h, step / pd.Timedelta(hours=1), labels)
    _check_units(str(path), time_src, data, labels)
    end_ns = (time_src + step).asi8  # T and P are observed at the end of the hour
    mid_ns = (time_src + step / 2).asi8  # FH is the mean of the hour
    weather = _to_weather(
        str(path), time_src, step,
        interval={"ghi_w_m2": data["ghi_w_m2"]},
        point={"t_amb_degc": (end_ns, data["t_amb_degc"]),
               "wind_speed_10m_m_s": (mid_ns, data["wind_speed_10m_m_s"]),
               "pressure_pa": (end_ns, data["pressure_pa"])},
        time_utc=time_utc, latitude_deg=latitude_deg, longitude_deg=longitude_deg, altitude_m=altitude_m,
    )
    object.__setattr__(weather, "source", f"KNMI uurgeg {path}{p_note}")
    return weather


# --------------------------------------------------------------------------- CSV and netCDF

_REQUIRED = ("ghi_w_m2", "t_amb_degc", "wind_speed_10m_m_s")
_OPTIONAL = ("dni_w_m2", "dhi_w_m2", "pressure_pa")


def _from_table(path: str, time_src: pd.DatetimeIndex, columns: dict[str, np.ndarray],
                time_utc, fill_gaps, max_gap_h, latitude_deg, longitude_deg, altitude_m) -> Weather:
    for c in _REQUIRED:
        if c not in columns:
            raise WeatherError(
                f"{path}: required column {c} is missing (have {', '.join(sorted(columns)) or 'none'}); "
                f"expected time_utc, {', '.join(_REQUIRED)} and optionally {', '.join(_OPTIONAL)}"
            )
    data = {c: np.asarray(columns[c], dtype=np.float64) for c in (*_REQUIRED, *_OPTIONAL) if c in columns}
    if ("dni_w_m2" in data) != ("dhi_w_m2" in data):
        raise WeatherError(f"{path}: give both dni_w_m2 and dhi_w_m2 or neither (then Erbs decomposition is used)")
    time_src, data, step = _regularise(path, time_src, data)
    if "pressure_pa" not in data:
        data["pressure_pa"] = np.full(len(time_src), pvlib.atmosphere.alt2pres(altitude_m))
    data = _fill_gaps(path, time_src, data, fill_gaps, max_gap_h, step / pd.Timedelta(hours=1))
    _check_units(path, time_src, data)
    mid_ns = (time_src + step / 2).asi8
    interval = {k: data[k] for k in ("ghi_w_m2", "dni_w_m2", "dhi_w_m2") if k in data}
    point = {k: (mid_ns, data[k]) for k in ("t_amb_degc", "wind_speed_10m_m_s", "pressure_pa")}
    return _to_weather(path, time_src, step, interval, point, time_utc, latitude_deg, longitude_deg, altitude_m)


def read_weather_csv(
    path: str | Path,
    time_utc: pd.DatetimeIndex | None = None,
    *,
    fill_gaps: GapFill | str | None = None,
    max_gap_h: float = 3.0,
    latitude_deg: float = TWENTHE_LATITUDE_DEG,
    longitude_deg: float = TWENTHE_LONGITUDE_DEG,
    altitude_m: float = TWENTHE_ALTITUDE_M,
) -> Weather:
    """Read a weather CSV with the column names of :class:`Weather`.

    Columns: ``time_utc`` (ISO 8601 with an explicit offset, e.g.
    ``2025-01-01T00:00Z``; the start of the interval), ``ghi_w_m2`` [W/m²],
    ``t_amb_degc`` [°C], ``wind_speed_10m_m_s`` [m/s]; optional ``dni_w_m2``
    and ``dhi_w_m2`` [W/m²] (both or neither; else Erbs decomposition) and
    ``pressure_pa`` [Pa] (else standard atmosphere at ``altitude_m``).  All
    values are interval means over [time_utc, time_utc + dt) on a regular grid.

    Parameters and errors as :func:`read_knmi_uurgeg`.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise WeatherError(f"{path}: cannot read CSV ({exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if "time_utc" not in df.columns:
        raise WeatherError(f"{path}: required column time_utc is missing (have {', '.join(df.columns)})")
    raw = df["time_utc"].astype(str).str.strip()
    try:
        parsed = pd.to_datetime(raw, utc=False, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise WeatherError(f"{path}: column time_utc is not ISO 8601 ({exc})") from exc
    if getattr(parsed.dt, "tz", None) is None:
        raise WeatherError(
            f"{path}: column time_utc has no UTC offset (first value {raw.iloc[0]!r}); write e.g. "
            f"'2025-01-01T00:00Z' so local time and daylight saving cannot be mistaken for UTC"
        )
    time_src = pd.DatetimeIndex(parsed).tz_convert("UTC")
    cols = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
            for c in df.columns if c != "time_utc"}
    return _from_table(str(path), time_src, cols, time_utc, fill_gaps, max_gap_h,
                       latitude_deg, longitude_deg, altitude_m)


def read_weather_netcdf(
    path: str | Path,
    time_utc: pd.DatetimeIndex | None = None,
    *,
    fill_gaps: GapFill | str | None = None,
    max_gap_h: float = 3.0,
    latitude_deg: float = TWENTHE_LATITUDE_DEG,
    longitude_deg: float = TWENTHE_LONGITUDE_DEG,
    altitude_m: float = TWENTHE_ALTITUDE_M,
) -> Weather:
    """Read a weather netCDF file with one dimension ``time``.

    Variables have the column names of :func:`read_weather_csv` with a
    dimension ``time`` (CF-encoded, interpreted as UTC, interval starts).  A
    variable whose ``units`` attribute contradicts its name (e.g.
    ``t_amb_degc`` with ``units="K"``) is rejected.  Parameters and errors as
    :func:`read_knmi_uurgeg`.
    """
    import xarray as xr  # local: only this importer needs xarray

    path = Path(path)
    try:
        ds = xr.open_dataset(path)
    except (OSError, ValueError) as exc:
        raise WeatherError(f"{path}: cannot open netCDF ({exc})") from exc
    with ds:
        if "time" not in ds.dims:
            raise WeatherError(f"{path}: no dimension 'time' (have {', '.join(map(str, ds.dims))})")
        expected_units = {"t_amb_degc": ("degC", "degree_Celsius", "celsius", "°C"),
                          "pressure_pa": ("Pa",), "ghi_w_m2": ("W m-2", "W/m2", "W/m^2"),
                          "wind_speed_10m_m_s": ("m s-1", "m/s")}
        for name, ok in expected_units.items():
            if name in ds and "units" in ds[name].attrs and ds[name].attrs["units"] not in ok:
                raise WeatherError(
                    f"{path}: variable {name} has units {ds[name].attrs['units']!r}; expected one of "
                    f"{', '.join(ok)} -- convert before import"
                )
        t = pd.DatetimeIndex(ds["time"].values)
        time_src = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
        cols = {str(v): np.asarray(ds[v].values, dtype=np.float64)
                for v in ds.data_vars if ds[v].dims == ("time",)}
    return _from_table(str(path), time_src, cols, time_utc, fill_gaps, max_gap_h,
                       latitude_deg, longitude_deg, altitude_m)

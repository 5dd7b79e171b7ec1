"""Tests of energy_sim.profiles.weather: synthetic Twente year and importers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
import xarray as xr

from energy_sim.profiles.weather import (
    Weather,
    WeatherError,
    read_knmi_uurgeg,
    read_weather_csv,
    read_weather_netcdf,
    solar_position,
    synthetic_weather,
)

DATA = Path(__file__).parent / "data"
KNMI_FILE = DATA / "uurgeg_290_test.txt"


def _year(year: int = 2025, freq: str = "15min") -> pd.DatetimeIndex:
    return pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq=freq, inclusive="left", tz="UTC")


@pytest.fixture(scope="module")
def year_seed0() -> Weather:
    return synthetic_weather(_year(), seed=0)


@pytest.fixture(scope="module")
def year_seed1() -> Weather:
    return synthetic_weather(_year(), seed=1)


# --------------------------------------------------------------------------- synthetic climatology


@pytest.mark.parametrize("fixture", ["year_seed0", "year_seed1"])
def test_synthetic_year_matches_twente_climatology(fixture, request):
    w = request.getfixturevalue(fixture)
    dt_h = 0.25
    # hengelo.md: De Bilt normal ~964 kWh/m² per year; KNMI normals for Dutch
    # inland stations lie within a few per cent of it.
    ghi_kwh_m2 = w.ghi_w_m2.sum() * dt_h / 1000.0
    assert 935.0 <= ghi_kwh_m2 <= 1000.0
    # hengelo.md: annual mean 9.8 °C (De Bilt); Twenthe normals 9.5-10.3 °C.
    assert 9.3 <= w.t_amb_degc.mean() <= 10.3
    # Cold spells: Twenthe sees below -5 °C in most winters.
    assert w.t_amb_degc.min() < -5.0
    # Summer days above 25 °C occur every year in Twente (KNMI 'zomerse dagen').
    assert w.t_amb_degc.max() > 25.0
    # KNMI Twenthe 10 m annual mean wind ~4 m/s (inland 3.5-4.5).
    assert 3.8 <= w.wind_speed_10m_m_s.mean() <= 4.6
    # Station pressure at 34 m: 101,500 Pa * exp(-34/8434) ≈ 101,092 Pa (± ~0.5 %).
    assert 100_500.0 <= w.pressure_pa.mean() <= 101_600.0
    assert np.all(w.ghi_w_m2 >= 0) and np.all(w.dni_w_m2 >= 0) and np.all(w.dhi_w_m2 >= 0)
    assert np.all(w.wind_speed_10m_m_s >= 0)


def test_heating_degree_days_and_seasons_match_the_knmi_1971_2000_normals():
    # KNMI De Bilt, 1971-2000 normals (CLO indicator nl000411, "Meteorologische gegevens", source KNMI 2003/2009):
    # 3,075 degree days (base 18 °C, daily means), winter (DJF) 3.3 °C, summer (JJA) 16.6 °C -- the same period
    # as hengelo.md's 9.8 °C and 964 kWh/m² (347 kJ/cm²). Twenthe is inland and a little colder in winter, and a
    # synthetic year varies like a real one (De Bilt 1990-2009: 2,525-3,321): the mean of 10 seeds within 5 %,
    # each season's mean within 1 K.
    degree_days, winter, summer = [], [], []
    for seed in range(10):
        t = _year(freq="1h")
        w = synthetic_weather(t, seed=seed)
        local = pd.Series(w.t_amb_degc, index=t.tz_convert("Europe/Amsterdam"))
        daily = local.groupby(local.index.date).mean()
        degree_days.append(np.clip(18.0 - daily, 0.0, None).sum())
        winter.append(local[local.index.month.isin([12, 1, 2])].mean())
        summer.append(local[local.index.month.isin([6, 7, 8])].mean())
    assert np.mean(degree_days) == pytest.approx(3075.0, rel=0.05)
    assert np.mean(winter) == pytest.approx(3.3, abs=1.0)
    assert np.mean(summer) == pytest.approx(16.6, abs=1.0)


def test_synthetic_seasons_have_the_right_sign(year_seed0):
    w = year_seed0
    month = w.time_utc.month
    jan, jul = month == 1, month == 7
    # July is warmer, sunnier and calmer than January in the Netherlands.
    assert w.t_amb_degc[jul].mean() - w.t_amb_degc[jan].mean() > 10.0
    assert w.ghi_w_m2[jul].mean() > 4 * w.ghi_w_m2[jan].mean()
    assert w.wind_speed_10m_m_s[jan].mean() > w.wind_speed_10m_m_s[jul].mean()


def test_synthetic_is_seeded_and_horizon_independent(year_seed0):
    week = pd.date_range("2025-03-10", periods=7 * 96, freq="15min", tz="UTC")
    w_week = synthetic_weather(week, seed=0)
    i0 = year_seed0.time_utc.get_loc(week[0])
    # the stochastic parts depend only on (seed, timestamp): bit-identical
    for name in ("t_amb_degc", "wind_speed_10m_m_s", "pressure_pa"):
        np.testing.assert_array_equal(getattr(w_week, name), getattr(year_seed0, name)[i0:i0 + len(week)],
                                      err_msg=name)
    # irradiance passes through pvlib's solar position, whose float results differ in
    # the last bits with the array length (~3e-7 deg measured): equal to 1e-6 relative
    for name in ("ghi_w_m2", "dni_w_m2", "dhi_w_m2"):
        np.testing.assert_allclose(getattr(w_week, name), getattr(year_seed0, name)[i0:i0 + len(week)],
                                   rtol=1e-6, atol=1e-6, err_msg=name)
    # another seed gives other weather
    assert not np.allclose(synthetic_weather(week, seed=1).t_amb_degc, w_week.t_amb_degc)


def test_synthetic_across_new_year_is_consistent_and_continuous(year_seed0):
    span = pd.date_range("2025-12-30", "2026-01-02", freq="15min", inclusive="left", tz="UTC")
    w = synthetic_weather(span, seed=0)
    n_2025 = int((span.year == 2025).sum())
    np.testing.assert_allclose(w.t_amb_degc[:n_2025], year_seed0.t_amb_degc[-n_2025:], atol=1e-9)
    # no jump at midnight: 15-min temperature steps stay small (< 1 K)
    assert np.max(np.abs(np.diff(w.t_amb_degc))) < 1.0


def test_synthetic_other_resolution_conserves_daily_irradiation(year_seed0):
    hourly = synthetic_weather(_year(freq="1h"), seed=0)
    day15 = year_seed0.ghi_w_m2.reshape(-1, 96).sum(axis=1) * 0.25
    day60 = hourly.ghi_w_m2.reshape(-1, 24).sum(axis=1)
    # clear sky is evaluated at interval midpoints: hourly midpoints approximate the
    # hourly integral to ~1 % over a day; the annual totals agree closer.
    assert abs(day60.sum() / day15.sum() - 1.0) < 0.01
    sunny = day15 > 1000.0
    assert np.max(np.abs(day60[sunny] / day15[sunny] - 1.0)) < 0.05


def test_synthetic_irradiance_physics(year_seed0):
    w = year_seed0
    sp = solar_position(w)
    assert solar_position(w) is sp  # cached per Weather object
    zen = sp["zenith"].to_numpy()
    night = sp["apparent_zenith"].to_numpy() > 90.0
    assert np.all(w.ghi_w_m2[night] == 0.0)
    # closure GHI = DHI + DNI cos(zenith) (Erbs decomposition satisfies it exactly)
    day = zen < 85.0
    np.testing.assert_allclose(w.dhi_w_m2[day] + w.dni_w_m2[day] * np.cos(np.radians(zen[day])),
                               w.ghi_w_m2[day], atol=1e-6)
    # never above 1.1 × the pvlib Ineichen clear sky (cloud enhancement bound)
    loc = pvlib.location.Location(w.latitude_deg, w.longitude_deg, "UTC", w.altitude_m)
    cs = loc.get_clearsky(sp.index, solar_position=sp)["ghi"].to_numpy()
    assert np.all(w.ghi_w_m2 <= 1.1 * cs + 1e-6)
    # Twenthe peak GHI stays below ~1,100 W/m²
    assert w.ghi_w_m2.max() < 1100.0


def test_synthetic_rejects_naive_time():
    with pytest.raises(WeatherError, match="timezone-aware"):
        synthetic_weather(pd.date_range("2025-01-01", periods=4, freq="15min"), seed=0)


# --------------------------------------------------------------------------- KNMI uurgeg


def test_knmi_hourly_values_and_time_convention():
    w = read_knmi_uurgeg(KNMI_FILE)
    # HH=1 on 20230621 is the hour 00-01 UT: the interval starts at 00:00 UTC
    assert w.time_utc[0] == pd.Timestamp("2023-06-21 00:00", tz="UTC")
    assert len(w.time_utc) == 24
    # HH=12: Q = 180 J/cm² in the hour -> 180e4 J/m² / 3600 s = 500 W/m²
    assert w.ghi_w_m2[11] == pytest.approx(500.0)
    # HH=11: Q = 220 J/cm² -> 611.11 W/m²
    assert w.ghi_w_m2[10] == pytest.approx(220e4 / 3600)
    # FH = 45 (0.1 m/s) in hour 11-12 UT -> 4.5 m/s (hourly mean, no interpolation needed)
    assert w.wind_speed_10m_m_s[11] == pytest.approx(4.5)
    # T is observed at the end of the hour; interval 11-12 UT (midpoint 11:30) lies
    # between T(11:00) = 20.5 °C and T(12:00) = 21.5 °C -> 21.0 °C
    assert w.t_amb_degc[11] == pytest.approx(21.0)
    # P = 10148 (0.1 hPa, sea level) at 11:00 and 12:00 -> 101,480 Pa × station ratio
    ratio = pvlib.atmosphere.alt2pres(34.0) / pvlib.atmosphere.alt2pres(0.0)
    assert w.pressure_pa[11] == pytest.approx(101_480.0 * ratio)
    # daily total: ΣQ = 1905 J/cm² = 19.05 MJ/m² = 5291.67 Wh/m²
    assert w.ghi_w_m2.sum() == pytest.approx(1905e4 / 3600)
    assert np.all(w.dni_w_m2 >= 0) and np.all(w.dhi_w_m2 <= w.ghi_w_m2 + 1e-9)


def test_knmi_preamble_without_hash_marks(tmp_path):
    # the zipped uurgeg downloads carry the preamble and column line without '#'
    p = tmp_path / "uurgeg_290_nohash.txt"
    p.write_text("\n".join(ln.lstrip("# ") for ln in KNMI_FILE.read_text().splitlines()) + "\n")
    w = read_knmi_uurgeg(p)
    assert len(w.time_utc) == 24 and w.ghi_w_m2[11] == pytest.approx(500.0)


def test_weather_owns_read_only_copies():
    t = pd.date_range("2025-01-01", periods=3, freq="1h", tz="UTC")
    ghi = np.zeros(3)
    w = Weather(t, ghi, ghi, ghi, np.zeros(3), np.zeros(3), np.full(3, 1e5), 52.0, 6.9, 34.0, "test")
    ghi[0] = 5.0  # the caller's array stays writable and the Weather unaffected
    assert w.ghi_w_m2[0] == 0.0 and not w.ghi_w_m2.flags.writeable
    with pytest.raises(WeatherError, match="shape"):
        Weather(t, np.zeros(2), ghi, ghi, ghi, ghi, ghi, 52.0, 6.9, 34.0, "test")


def test_knmi_resampled_to_15min_conserves_energy_and_interpolates():
    t = pd.date_range("2023-06-21", periods=96, freq="15min", tz="UTC")
    w = read_knmi_uurgeg(KNMI_FILE, t)
    assert w.ghi_w_m2.sum() * 0.25 == pytest.approx(1905e4 / 3600)
    # hour 11-12 UT keeps its mean 500 W/m², spread over the quarters in proportion
    # to cos(zenith) at their midpoints (reference: pvlib NREL SPA, not the code's ephemeris)
    sp = pvlib.solarposition.get_solarposition(t[44:48] + pd.Timedelta(minutes=7.5), 52.274, 6.891, 34.0)
    cosz = np.cos(np.radians(sp["zenith"].to_numpy()))
    np.testing.assert_allclose(w.ghi_w_m2[44:48], 500.0 * cosz / cosz.mean(), rtol=1e-5)
    # no light before sunrise: the hour 03-04 UT has Q = 1 J/cm² (2.78 W/m²) but the
    # sun rises at ~03:17 UT on 21 June at Twenthe
    sp_all = pvlib.solarposition.get_solarposition(t + pd.Timedelta(minutes=7.5), 52.274, 6.891, 34.0)
    dark = sp_all["zenith"].to_numpy() > 90.0
    assert dark[12] and not dark[13]  # 03:00-03:15 dark, 03:15-03:30 lit
    assert w.ghi_w_m2[12] == 0.0 and w.ghi_w_m2[13] > 0.0
    assert w.ghi_w_m2[12:16].mean() == pytest.approx(1e4 / 3600)
    # the hour 20-21 UT lies wholly after sunset: its twilight Q = 1 J/cm² stays uniform
    assert dark[80:84].all()
    np.testing.assert_allclose(w.ghi_w_m2[80:84], 1e4 / 3600)
    # 11:00-11:15, midpoint 11:07:30: 20.5 + 0.125 × (21.5 - 20.5) = 20.625 °C
    assert w.t_amb_degc[44] == pytest.approx(20.625)
    # wind: hour means sit at half hours; 11:07:30 is 0.625 h after 10:30 (5.0 m/s)
    # towards 11:30 (4.5 m/s): 5.0 - 0.625 × 0.5 = 4.6875 m/s
    assert w.wind_speed_10m_m_s[44] == pytest.approx(4.6875)


def test_knmi_horizon_outside_file_is_rejected():
    t = pd.date_range("2023-06-21 20:00", periods=24, freq="15min", tz="UTC")
    with pytest.raises(WeatherError, match="horizon needs"):
        read_knmi_uurgeg(KNMI_FILE, t)


def _edit_knmi(tmp_path: Path, hh: int, column: str, new: str) -> Path:
    lines = KNMI_FILE.read_text().splitlines()
    header = [c.strip() for c in next(ln for ln in lines if "STN,YYYYMMDD" in ln).lstrip("# ").split(",")]
    out = []
    for ln in lines:
        if not ln.startswith("#"):
            f = ln.split(",")
            if int(f[2]) == hh:
                j = header.index(column)
                f[j] = new.rjust(len(f[j]))
            ln = ",".join(f)
        out.append(ln)
    p = tmp_path / "uurgeg_290_edit.txt"
    p.write_text("\n".join(out) + "\n")
    return p


def test_knmi_gap_is_reported_with_file_column_and_time(tmp_path):
    p = _edit_knmi(tmp_path, 12, "T", "")
    with pytest.raises(WeatherError) as exc:
        read_knmi_uurgeg(p)
    msg = str(exc.value)
    assert "uurgeg_290_edit.txt" in msg and "T (t_amb_degc)" in msg
    assert "2023-06-21 11:00" in msg and "fill_gaps" in msg


def test_knmi_gap_filled_only_when_asked(tmp_path):
    p = _edit_knmi(tmp_path, 12, "T", "")
    w = read_knmi_uurgeg(p, fill_gaps="interpolate", max_gap_h=2)
    # T(12:00) interpolated between 20.5 (11:00) and 22.2 (13:00) -> 21.35; the
    # interval 11-12 UT (midpoint 11:30) then has (20.5 + 21.35) / 2 = 20.925 °C
    assert w.t_amb_degc[11] == pytest.approx(20.925)
    with pytest.raises(WeatherError, match="longer than max_gap_h"):
        read_knmi_uurgeg(p, fill_gaps="interpolate", max_gap_h=0.5)


def test_knmi_kelvin_like_temperature_is_rejected(tmp_path):
    p = _edit_knmi(tmp_path, 5, "T", "2931")  # 293.1 "°C": a Kelvin value in 0.1 units
    with pytest.raises(WeatherError, match=r"T \(t_amb_degc\).*Kelvin") as exc:
        read_knmi_uurgeg(p)
    assert "2023-06-21 04:00" in str(exc.value)


def test_knmi_missing_column_is_named(tmp_path):
    text = KNMI_FILE.read_text().replace("SQ,    Q,", "SQ,    X,")
    p = tmp_path / "uurgeg_noq.txt"
    p.write_text(text)
    with pytest.raises(WeatherError, match="column Q is missing"):
        read_knmi_uurgeg(p)


# --------------------------------------------------------------------------- CSV and netCDF


def _write_csv(path: Path, times: list[str], ghi, t, wind, extra: str = "") -> Path:
    rows = ["time_utc,ghi_w_m2,t_amb_degc,wind_speed_10m_m_s"]
    rows += [f"{a},{b},{c},{d}" for a, b, c, d in zip(times, ghi, t, wind)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_csv_hourly_to_15min(tmp_path):
    times = [f"2024-05-01T{h:02d}:00Z" for h in range(9, 13)]
    p = _write_csv(tmp_path / "w.csv", times, [400, 600, 800, 700], [10, 12, 14, 16], [3, 4, 5, 6])
    t = pd.date_range("2024-05-01 09:00", periods=16, freq="15min", tz="UTC")
    w = read_weather_csv(p, t)
    # hourly means kept (energy conserved per hour), shaped by the sun within the hour
    np.testing.assert_allclose(w.ghi_w_m2.reshape(4, 4).mean(axis=1), [400, 600, 800, 700])
    assert w.ghi_w_m2.sum() * 0.25 == pytest.approx(400 + 600 + 800 + 700)
    # 30-min target is nested too; 45-min is not: then piecewise constant per hour
    w45 = read_weather_csv(p, pd.date_range("2024-05-01 09:00", periods=4, freq="45min", tz="UTC"))
    # [09:00, 09:45) lies in hour 9: 400; [09:45, 10:30) = (15 × 400 + 30 × 600) / 45 = 533.33
    np.testing.assert_allclose(w45.ghi_w_m2[:2], [400.0, 533.3333333], rtol=1e-8)
    # hourly means sit at the half hour: 10:37:30 is 0.125 h after 10:30 (12 °C)
    # towards 11:30 (14 °C): 12.25 °C; wind 4 + 0.125 = 4.125 m/s
    assert w.t_amb_degc[6] == pytest.approx(12.25)
    assert w.wind_speed_10m_m_s[6] == pytest.approx(4.125)
    # no pressure column: standard atmosphere at 34 m (pvlib.atmosphere.alt2pres)
    assert w.pressure_pa[0] == pytest.approx(pvlib.atmosphere.alt2pres(34.0))


def test_csv_naive_times_kelvin_and_missing_column_are_rejected(tmp_path):
    p = _write_csv(tmp_path / "naive.csv", ["2024-05-01 09:00", "2024-05-01 10:00"], [1, 2], [10, 11], [3, 3])
    with pytest.raises(WeatherError, match="no UTC offset"):
        read_weather_csv(p)
    p = _write_csv(tmp_path / "kelvin.csv", ["2024-05-01T09:00Z", "2024-05-01T10:00Z"], [1, 2], [283.1, 284.2], [3, 3])
    with pytest.raises(WeatherError, match="t_amb_degc.*283.1 at 2024-05-01 09:00.*Kelvin"):
        read_weather_csv(p)
    p = tmp_path / "nowind.csv"
    p.write_text("time_utc,ghi_w_m2,t_amb_degc\n2024-05-01T09:00Z,1,10\n2024-05-01T10:00Z,2,11\n")
    with pytest.raises(WeatherError, match="nowind.csv: required column wind_speed_10m_m_s is missing"):
        read_weather_csv(p)


def test_csv_missing_row_is_a_gap(tmp_path):
    times = ["2024-05-01T09:00Z", "2024-05-01T10:00Z", "2024-05-01T12:00Z", "2024-05-01T13:00Z"]
    p = _write_csv(tmp_path / "gap.csv", times, [400, 600, 800, 700], [10, 12, 16, 18], [3, 4, 5, 6])
    with pytest.raises(WeatherError, match="ghi_w_m2 has 1 missing value.*2024-05-01 11:00"):
        read_weather_csv(p)
    w = read_weather_csv(p, fill_gaps="interpolate")
    assert w.t_amb_degc[2] == pytest.approx(14.0)  # (12 + 16) / 2 at the 11:00 row
    assert w.ghi_w_m2[2] == pytest.approx(700.0)  # (600 + 800) / 2


def test_netcdf_round_trip_and_units(tmp_path):
    time = pd.date_range("2024-05-01 09:00", periods=4, freq="1h")  # CF times, naive = UTC
    ds = xr.Dataset(
        {"ghi_w_m2": ("time", [400.0, 600.0, 800.0, 700.0], {"units": "W m-2"}),
         "t_amb_degc": ("time", [10.0, 12.0, 14.0, 16.0], {"units": "degC"}),
         "wind_speed_10m_m_s": ("time", [3.0, 4.0, 5.0, 6.0]),
         "pressure_pa": ("time", [101000.0, 101100.0, 101200.0, 101300.0], {"units": "Pa"})},
        coords={"time": time},
    )
    p = tmp_path / "w.nc"
    ds.to_netcdf(p)
    w = read_weather_netcdf(p)
    assert w.time_utc[0] == pd.Timestamp("2024-05-01 09:00", tz="UTC")
    np.testing.assert_allclose(w.ghi_w_m2, [400, 600, 800, 700])
    # first interval midpoint 09:30 is the first sample: 10 °C, 101,000 Pa
    assert w.t_amb_degc[0] == pytest.approx(10.0)
    assert w.pressure_pa[1] == pytest.approx(101_100.0)
    ds["t_amb_degc"].attrs["units"] = "K"
    p2 = tmp_path / "kelvin.nc"
    ds.to_netcdf(p2)
    with pytest.raises(WeatherError, match="t_amb_degc has units 'K'"):
        read_weather_netcdf(p2)


def test_bad_fill_gaps_option_is_rejected():
    with pytest.raises(WeatherError, match="fill_gaps must be None or one of"):
        read_knmi_uurgeg(KNMI_FILE, fill_gaps="zero")


@pytest.mark.slow
def test_climatology_holds_for_many_seeds():
    # every seed is a typical year (latents centred per year/month), so the annual
    # statistics hold seed by seed, not only on average (limits as above)
    for seed in range(20):
        w = synthetic_weather(_year(freq="1h"), seed=seed)
        assert 935.0 <= w.ghi_w_m2.sum() / 1000.0 <= 1000.0, seed
        assert 9.3 <= w.t_amb_degc.mean() <= 10.3, seed
        assert 3.8 <= w.wind_speed_10m_m_s.mean() <= 4.6, seed
    # cold spells are not guaranteed every year, but below -5 °C in most
    mins = [synthetic_weather(_year(2030 + k, "1h"), seed=7).t_amb_degc.min() for k in range(10)]
    assert sum(m < -5.0 for m in mins) >= 6

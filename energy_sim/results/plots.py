"""Matplotlib figures of a run's results, rendered off-screen (Agg/SVG).

Every function takes the results Dataset (see `energy_sim.results.dataset`)
and returns a `matplotlib.figure.Figure`; `figure_svg` turns a figure into an
inline ``<svg>`` element for the HTML report.  Times are shown in the
scenario's time zone (``attrs["time_zone"]``, Europe/Amsterdam by default).

Colours of loading follow one scale everywhere: green well below the rating,
yellow at 100 %, red above it (`LOADING_CMAP`, `loading_norm`).
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # reports are rendered without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

LOADING_CMAP = "RdYlGn_r"
RATING_PCT = 100.0
#: categories in the stacked profiles, in drawing order, with their colours
CATEGORY_COLOURS = {
    "household": "#4c72b0",
    "heat_pump": "#dd8452",
    "ev": "#8172b3",
    "heat_network": "#c44e52",
    "battery": "#937860",
    "rooftop_pv": "#f2c14e",
    "solar_field": "#e1a100",
    "wind": "#55a868",
}
CATEGORY_LABELS = {
    "household": "households", "heat_pump": "heat pumps", "ev": "EV charging", "heat_network": "heat networks",
    "battery": "batteries", "rooftop_pv": "rooftop PV", "solar_field": "solar fields", "wind": "wind",
}
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
       "svg.fonttype": "none", "svg.hashsalt": "energy_sim"}


def local_time(ds: xr.Dataset) -> pd.DatetimeIndex:
    """The ``time`` axis of `ds` in the scenario's time zone."""
    return pd.DatetimeIndex(ds.time.values).tz_localize("UTC").tz_convert(ds.attrs.get("time_zone", "Europe/Amsterdam"))


def loading_norm(peak_pct: float) -> TwoSlopeNorm:
    """Colour scale of loading [%]: 0 green, 100 yellow, ``max(150, peak)`` red."""
    top = max(150.0, float(np.nan_to_num(peak_pct, nan=0.0)) * 1.02)
    return TwoSlopeNorm(vmin=0.0, vcenter=RATING_PCT, vmax=top)


def wijk_labels(ds: xr.Dataset) -> list[str]:
    """``"Name (code)"`` for each wijk, or the code when the name is empty."""
    return [f"{n}" if n else str(c) for c, n in zip(ds.wijk.values, ds.wijk_name.values)]


def figure_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog); closes the figure."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    # natural size on wide screens, shrunk (same aspect ratio, from the viewBox) on narrow ones
    return re.sub(r"<svg ", '<svg style="max-width:100%;height:auto" ', svg, count=1)


def _hourly_max(series: pd.DataFrame) -> pd.DataFrame:
    return series.resample("1h").max() if len(series) > 24 * 4 * 3 else series


def loading_heatmap_figure(ds: xr.Dataset) -> Figure:
    """Heatmap time × wijk of the most loaded MV/LV transformer of each wijk [%].

    Columns are the hourly maximum (the step itself for runs of three days or
    less), so a whole year stays readable and no peak is averaged away.
    """
    frame = pd.DataFrame(ds.wijk_trafo_loading_max_pct.values, index=local_time(ds), columns=wijk_labels(ds))
    frame = _hourly_max(frame)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(11, 0.45 * frame.shape[1] + 1.6))
        t = frame.index
        edges = np.append(t.to_numpy(), t[-1] + (t[-1] - t[-2] if len(t) > 1 else pd.Timedelta("1h")))
        edges_num = matplotlib.dates.date2num(pd.DatetimeIndex(edges).tz_localize(None))
        mesh = ax.pcolormesh(edges_num, np.arange(frame.shape[1] + 1), frame.to_numpy().T, cmap=LOADING_CMAP,
                             norm=loading_norm(np.nanmax(frame.to_numpy()) if frame.size else 0.0),
                             shading="flat", rasterized=True)
        ax.set_yticks(np.arange(frame.shape[1]) + 0.5, frame.columns)
        ax.invert_yaxis()
        ax.xaxis_date()
        locator = matplotlib.dates.AutoDateLocator(minticks=4, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
        ax.set_xlabel(f"time ({ds.attrs.get('time_zone', 'Europe/Amsterdam')})")
        ax.set_title("Most loaded MV/LV transformer per wijk (hourly maximum)", loc="left")
        fig.colorbar(mesh, ax=ax, label="loading [%]", pad=0.01, fraction=0.03)
    return fig


def day_hour_heatmap_figure(ds: xr.Dataset) -> Figure:
    """Heatmap day × hour of day of the highest MV/LV transformer loading in any wijk [%]."""
    city_max = pd.Series(ds.wijk_trafo_loading_max_pct.max("wijk").values, index=local_time(ds))
    table = city_max.groupby([city_max.index.date, city_max.index.hour]).max().unstack()
    table = table.reindex(columns=range(24))
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(11, 3.2))
        days = matplotlib.dates.date2num(pd.to_datetime(table.index))
        edges = np.append(days, days[-1] + 1.0)
        mesh = ax.pcolormesh(edges, np.arange(25), table.to_numpy().T, cmap=LOADING_CMAP,
                             norm=loading_norm(np.nanmax(table.to_numpy())), shading="flat", rasterized=True)
        ax.set_yticks([0, 6, 12, 18, 24])
        ax.set_ylabel("hour of day")
        ax.xaxis_date()
        locator = matplotlib.dates.AutoDateLocator(minticks=4, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
        ax.set_title("When the peaks come: highest MV/LV transformer loading in any wijk, by day and hour", loc="left")
        fig.colorbar(mesh, ax=ax, label="loading [%]", pad=0.01, fraction=0.03)
    return fig


def duration_points(values: np.ndarray, dt_h: float, n_points: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """A load-duration curve: hours [h] for which the loading is at least the value [%].

    Long horizons are thinned to `n_points` evenly spaced ranks (the first and
    last rank are always kept), which keeps the curve exact at those ranks.
    """
    ordered = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])[::-1]
    hours = (np.arange(len(ordered)) + 1) * dt_h
    if len(ordered) > n_points:
        keep = np.unique(np.linspace(0, len(ordered) - 1, n_points).round().astype(int))
        return hours[keep], ordered[keep]
    return hours, ordered


def load_duration_figure(ds: xr.Dataset) -> Figure:
    """Load-duration curves of the most loaded MV/LV transformer per wijk and of the HV/MV station."""
    dt_h = float(ds.attrs["resolution_min"]) / 60.0
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(11, 4.2))
        for k, label in enumerate(wijk_labels(ds)):
            hours, pct = duration_points(ds.wijk_trafo_loading_max_pct.isel(wijk=k).values, dt_h)
            ax.plot(hours, pct, lw=1.4, label=label)
        stations = ds.trafo_level.values == "hv/mv"
        if stations.any():
            station = ds.trafo_loading_pct.isel(trafo=np.flatnonzero(stations)).max("trafo").values
            hours, pct = duration_points(station, dt_h)
            ax.plot(hours, pct, lw=1.4, ls="--", color="0.35", label="HV/MV station")
        ax.axhline(RATING_PCT, color="#c0392b", lw=1, ls=":")
        ax.text(ax.get_xlim()[1], RATING_PCT, " rating", va="center", ha="left", color="#c0392b")
        ax.set_xlabel("hours per horizon at or above the loading [h]")
        ax.set_ylabel("loading [%]")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.set_title("Load-duration curves (most loaded MV/LV transformer per wijk)", loc="left")
        ax.legend(loc="upper right", ncols=2 if ds.sizes["wijk"] > 5 else 1, fontsize=8, frameon=False)
    return fig


def worst_day(ds: xr.Dataset) -> tuple[pd.Timestamp, int]:
    """The local day and wijk index of the highest MV/LV transformer loading of the run."""
    values = ds.wijk_trafo_loading_max_pct.values
    if not np.isfinite(values).any():
        return local_time(ds)[0].normalize(), 0
    step, wijk = np.unravel_index(np.nanargmax(values), values.shape)
    return local_time(ds)[step].normalize(), int(wijk)


def worst_day_figure(ds: xr.Dataset) -> Figure:
    """Stacked power by category over the worst day in the worst wijk [MW], with the net demand."""
    day, k = worst_day(ds)
    t = local_time(ds)
    on_day = (t >= day) & (t < day + pd.Timedelta(days=1))
    power = pd.DataFrame(ds.wijk_p_mw.isel(wijk=k).values[on_day], index=t[on_day],
                         columns=[str(c) for c in ds.category.values])
    loading = ds.wijk_trafo_loading_max_pct.isel(wijk=k).values[on_day]
    with plt.rc_context(_RC):
        fig, (ax, ax_load) = plt.subplots(2, 1, figsize=(11, 5.2), sharex=True, height_ratios=[3, 1.2])
        x = matplotlib.dates.date2num(power.index.tz_localize(None))
        x_edges = np.append(x, x[-1] + (x[-1] - x[-2] if len(x) > 1 else 1 / 96))
        pos = np.zeros(len(power))
        neg = np.zeros(len(power))
        for name in [c for c in CATEGORY_COLOURS if c in power] + [c for c in power if c not in CATEGORY_COLOURS]:
            p = power[name].to_numpy()
            if not np.any(p):
                continue
            base = np.where(p >= 0, pos, neg)
            ax.fill_between(x_edges, np.append(base, base[-1]), np.append(base + p, base[-1] + p[-1]), step="post",
                            color=CATEGORY_COLOURS.get(name), lw=0, alpha=0.9, label=CATEGORY_LABELS.get(name, name))
            pos = np.where(p >= 0, pos + p, pos)
            neg = np.where(p < 0, neg + p, neg)
        net = power.sum(axis=1).to_numpy()
        ax.step(x_edges, np.append(net, net[-1]), where="post", color="black", lw=1.3, label="net demand")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_ylabel("power [MW]\n(consumption +, generation −)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        name = wijk_labels(ds)[k]
        ax.set_title(f"Worst day: {day:%A %d %B %Y} in {name} — power by category", loc="left")
        ax_load.step(x_edges, np.append(loading, loading[-1] if len(loading) else np.nan), where="post",
                     color="#c0392b", lw=1.3)
        ax_load.axhline(RATING_PCT, color="#c0392b", lw=1, ls=":")
        ax_load.set_ylabel("max trafo\nloading [%]")
        ax_load.set_ylim(bottom=0)
        ax_load.grid(alpha=0.3)
        ax_load.xaxis_date()
        ax_load.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%H:%M"))
        ax_load.set_xlabel(f"time of day ({ds.attrs.get('time_zone', 'Europe/Amsterdam')})")
    return fig


def wijk_map_figure(ds: xr.Dataset, table: pd.DataFrame) -> Figure:
    """The wijken placed by their coordinates, coloured by peak MV/LV transformer loading.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of a run (for coordinates and homes).
    table : pandas.DataFrame
        The per-wijk summary (`energy_sim.results.summary.summarise`), in the
        order of ``ds.wijk``.
    """
    lon = ds.wijk_lon_deg.values.astype(float)
    lat = ds.wijk_lat_deg.values.astype(float)
    homes = ds.wijk_homes.values.astype(float)
    peak = table.peak_trafo_loading_pct.to_numpy(dtype=float)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 6.0))
        size = 250 + 1400 * np.sqrt(homes / max(homes.max(), 1.0))
        points = ax.scatter(lon, lat, s=size, c=peak, cmap=LOADING_CMAP, norm=loading_norm(np.nanmax(peak)),
                            edgecolors=np.where(peak > RATING_PCT, "#7b0000", "0.3"),
                            linewidths=np.where(peak > RATING_PCT, 2.5, 0.8), zorder=2)
        for k, label in enumerate(wijk_labels(ds)):
            hours = table.trafo_overload_h.iloc[k]
            extra = f"\n{hours:.1f} h > 100 %" if hours > 0 else ""
            ax.annotate(f"{label}\n{peak[k]:.0f} %{extra}", (lon[k], lat[k]), xytext=(0, -np.sqrt(size[k]) / 2 - 4),
                        textcoords="offset points", ha="center", va="top", fontsize=8, zorder=3)
        ax.set_aspect(1.0 / np.cos(np.deg2rad(np.nanmean(lat) if len(lat) else 52.0)))
        pad_lon = max(0.012, 0.12 * np.ptp(lon)) if len(lon) else 0.02
        pad_lat = max(0.008, 0.12 * np.ptp(lat)) if len(lat) else 0.02
        ax.set_xlim(np.nanmin(lon) - pad_lon, np.nanmax(lon) + pad_lon)
        ax.set_ylim(np.nanmin(lat) - 1.6 * pad_lat, np.nanmax(lat) + pad_lat)
        ax.set_xlabel("longitude [°E]")
        ax.set_ylabel("latitude [°N]")
        ax.grid(alpha=0.25)
        ax.set_title("Wijken by location: peak MV/LV transformer loading (circle area ~ homes)", loc="left")
        fig.colorbar(points, ax=ax, label="peak loading [%]", fraction=0.04, pad=0.02)
    return fig


def compare_peak_figure(labels: list[str], wijk_names: list[str], peak_pct: np.ndarray) -> Figure:
    """Grouped bars of peak MV/LV transformer loading per wijk [%], one bar per run.

    Parameters
    ----------
    labels : list of str
        Run labels, one per row of `peak_pct`.
    wijk_names : list of str
        One per column of `peak_pct`.
    peak_pct : numpy.ndarray
        Peak loading [%], shape (runs, wijken).
    """
    n_runs, n_wijk = peak_pct.shape
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * n_wijk * max(n_runs, 2) * 0.5 + 3), 4.0))
        width = 0.8 / n_runs
        for r in range(n_runs):
            ax.bar(np.arange(n_wijk) + (r - (n_runs - 1) / 2) * width, peak_pct[r], width, label=labels[r])
        ax.axhline(RATING_PCT, color="#c0392b", lw=1, ls=":")
        ax.set_xticks(np.arange(n_wijk), wijk_names, rotation=30 if n_wijk > 4 else 0, ha="right" if n_wijk > 4 else "center")
        ax.set_ylabel("peak loading [%]")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(frameon=False)
        ax.set_title("Peak MV/LV transformer loading per wijk", loc="left")
    return fig


def compare_duration_figure(labels: list[str], datasets: list[xr.Dataset]) -> Figure:
    """Load-duration curves of the most loaded MV/LV transformer in any wijk, one per run."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(9, 3.8))
        for label, ds in zip(labels, datasets):
            dt_h = float(ds.attrs["resolution_min"]) / 60.0
            hours, pct = duration_points(ds.wijk_trafo_loading_max_pct.max("wijk").values, dt_h)
            ax.plot(hours, pct, lw=1.5, label=label)
        ax.axhline(RATING_PCT, color="#c0392b", lw=1, ls=":")
        ax.set_xlabel("hours at or above the loading [h]")
        ax.set_ylabel("loading [%]")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        ax.set_title("Load-duration curves: most loaded MV/LV transformer in the city", loc="left")
    return fig

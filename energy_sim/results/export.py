"""Exports of a run's results for spreadsheets (CSV) and for a council memo (Markdown).

CSV files (comma-separated, ``.`` as decimal mark, UTF-8, one header row;
numbers written at full precision so they equal the Dataset's values):

``wijk_summary.csv``
    the per-wijk table of `energy_sim.results.summary.summarise`, plus any
    per-wijk result the run has beyond it (e.g. undelivered EV energy once
    simulated);
``wijk_energy_mwh.csv``
    energy by category per wijk [MWh] (consumption +, generation −);
``trafos.csv`` / ``lines.csv``
    per transformer / cable: wijk, level, rating, peak loading, hours above
    100 %, energy above the rating;
``buses.csv``
    per LV bus: lowest and highest voltage, hours outside the band;
``events.csv``
    congestion events, start and end in UTC and in the scenario's time zone;
``wijk_timeseries.csv``
    per step and wijk: most loaded MV/LV transformer and LV feeder [%],
    lowest and highest voltage [pu], net demand [MW];
``heat_networks.csv``, ``batteries.csv``, ``outages.csv``
    when the run has them: per heat network its heat balance, and heat and
    electricity per source [MWh]; per battery its rating, energy charged and
    discharged and final state of charge; per outage the element, when (UTC
    and local) and the energy not served and production lost [MWh].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from energy_sim.results.summary import RunSummary, summarise

#: Results a later issue adds; until then reports say "not simulated yet".
#: (label, substrings of the per-wijk variable names that carry it)
FUTURE_RESULTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("undelivered EV energy", ("undelivered",)),
    ("curtailed energy", ("curtail",)),
    ("interventions", ("intervention",)),
)
NOT_SIMULATED = "not simulated yet"
#: horizon-wide results the summary needs; a run that stopped half-way has none of them
HORIZON_VARIABLES = ("trafo_peak_loading_pct", "line_peak_loading_pct", "wijk_e_mwh", "wijk_name")


class IncompleteResults(ValueError):
    """The results lack what a summary needs (a run that stopped half-way); the message says what to do."""


def require_horizon_results(ds: xr.Dataset) -> None:
    """Raise `IncompleteResults` unless `ds` has the horizon-wide results of a finished run."""
    missing = [name for name in HORIZON_VARIABLES if name not in ds.variables]
    if missing:
        raise IncompleteResults(
            f"the results of {ds.attrs.get('scenario_name', 'this run')!r} are {ds.attrs.get('status', 'incomplete')}: "
            f"the run stopped before its end, so the horizon-wide results ({', '.join(missing)}) were never written; "
            f"run the scenario to completion with `energy-sim run`, then report or export it")
_KNOWN_WIJK_VARS = {"wijk_name", "wijk_lon_deg", "wijk_lat_deg", "wijk_homes"}


def extra_wijk_results(ds: xr.Dataset) -> pd.DataFrame:
    """Per-wijk, horizon-wide results in `ds` beyond the summary table, one column each.

    Any data variable with the single dimension ``wijk`` counts (later issues
    add e.g. undelivered EV energy and curtailed energy this way); the column
    name is the variable name, which carries its unit.
    """
    columns = {name: var.values for name, var in ds.data_vars.items()
               if var.dims == ("wijk",) and name not in _KNOWN_WIJK_VARS}
    return pd.DataFrame(columns, index=pd.Index([str(c) for c in ds.wijk.values], name="code"))


def future_results_status(ds: xr.Dataset) -> list[tuple[str, list[str]]]:
    """For each of `FUTURE_RESULTS`: its label and the variables of `ds` carrying it ([] if none)."""
    names = list(ds.data_vars)
    return [(label, [n for n in names if any(key in n for key in keys)]) for label, keys in FUTURE_RESULTS]


def wijk_table(ds: xr.Dataset, summary: RunSummary | None = None) -> pd.DataFrame:
    """The per-wijk summary table joined with `extra_wijk_results`."""
    require_horizon_results(ds)
    summary = summary or summarise(ds)
    extra = extra_wijk_results(ds)
    if extra.empty:
        return summary.table.copy()
    return summary.table.join(extra, on="code")


def element_table(ds: xr.Dataset, kind: str) -> pd.DataFrame:
    """Horizon-wide results per transformer (``kind="trafo"``) or cable (``kind="line"``)."""
    if kind not in ("trafo", "line"):
        raise ValueError(f"element kind must be 'trafo' or 'line' (got {kind!r})")
    rated = "trafo_sn_mva" if kind == "trafo" else "line_s_rated_mva"
    return pd.DataFrame({
        kind: ds[kind].values.astype(str),
        "wijk": ds[f"{kind}_wijk"].values.astype(str),
        "level": ds[f"{kind}_level"].values.astype(str),
        rated: ds[rated].values,
        "peak_loading_pct": ds[f"{kind}_peak_loading_pct"].values,
        "overload_h": ds[f"{kind}_overload_h"].values,
        "energy_above_rating_mwh": ds[f"{kind}_energy_above_rating_mwh"].values,
    })


def bus_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per LV bus: lowest and highest voltage [pu] and hours outside the band [h]."""
    return pd.DataFrame({
        "bus": ds.bus.values.astype(str), "wijk": ds.bus_wijk.values.astype(str),
        "vm_min_pu": ds.bus_vm_min_pu.values, "vm_max_pu": ds.bus_vm_max_pu.values,
        "voltage_violation_h": ds.bus_voltage_violation_h.values,
    })


def events_table(ds: xr.Dataset) -> pd.DataFrame:
    """Congestion events with their wijk, level, local start and end, and duration [h]."""
    tz = ds.attrs.get("time_zone", "Europe/Amsterdam")
    n = ds.sizes.get("event", 0)
    element = ds.event_element.values.astype(str) if n else np.array([], dtype=str)
    kind = ds.event_kind.values.astype(str) if n else np.array([], dtype=str)
    wijk_of, level_of = {}, {}
    for k in ("trafo", "line"):
        wijk_of.update(zip(ds[k].values.astype(str), ds[f"{k}_wijk"].values.astype(str)))
        level_of.update(zip(ds[k].values.astype(str), ds[f"{k}_level"].values.astype(str)))
    name_of = dict(zip(ds.wijk.values.astype(str), ds.wijk_name.values.astype(str)))
    start = pd.DatetimeIndex(ds.event_start.values if n else [], name="start").tz_localize("UTC")
    end = pd.DatetimeIndex(ds.event_end.values if n else [], name="end").tz_localize("UTC")
    wijk = [wijk_of.get(e, "") for e in element]
    return pd.DataFrame({
        "element": element,
        "kind": kind,
        "level": [level_of.get(e, "") for e in element],
        "wijk": wijk,
        "wijk_name": [name_of.get(w, "") for w in wijk],
        "start_utc": start,
        "end_utc": end,
        "start_local": start.tz_convert(tz),
        "end_local": end.tz_convert(tz),
        "duration_h": (end - start).total_seconds().to_numpy() / 3600.0,
        "peak_loading_pct": ds.event_peak_loading_pct.values if n else np.array([], dtype=float),
        "energy_above_rating_mwh": ds.event_energy_above_rating_mwh.values if n else np.array([], dtype=float),
    })


def wijk_timeseries_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per step and wijk (long format): loading maxima [%], voltage extremes [pu], net demand [MW]."""
    tz = ds.attrs.get("time_zone", "Europe/Amsterdam")
    utc = pd.DatetimeIndex(ds.time.values).tz_localize("UTC")
    frames = []
    for k, code in enumerate(ds.wijk.values.astype(str)):
        frames.append(pd.DataFrame({
            "time_utc": utc, "time_local": utc.tz_convert(tz), "wijk": code,
            "trafo_loading_max_pct": ds.wijk_trafo_loading_max_pct.values[:, k],
            "feeder_loading_max_pct": ds.wijk_feeder_loading_max_pct.values[:, k],
            "vm_min_pu": ds.wijk_vm_min_pu.values[:, k],
            "vm_max_pu": ds.wijk_vm_max_pu.values[:, k],
            "net_p_mw": ds.wijk_p_mw.values[:, k, :].sum(axis=1),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def dimension_table(ds: xr.Dataset, dim: str) -> pd.DataFrame:
    """Every variable along `dim` alone as a column, one row per entry (the ``dim_`` prefix dropped).

    Variables along ``(dim, other)`` become one column per entry of
    ``other``, named ``<variable>_<entry>`` (e.g. ``heat_mwh_residual_heat_pump``).
    Time stamps (stored in UTC) get a ``_utc`` column and a ``_local`` one in
    the run's time zone.
    """
    tz = ds.attrs.get("time_zone", "Europe/Amsterdam")
    columns: dict[str, object] = {dim: ds[dim].values.astype(str)}
    for name in [*ds.coords, *ds.data_vars]:  # labels first, then results
        var = ds.variables[name]
        if name == dim or not var.dims or var.dims[0] != dim or len(var.dims) > 2:
            continue
        label = name[len(dim) + 1:] if name.startswith(f"{dim}_") else name
        if len(var.dims) == 2:
            for j, entry in enumerate(ds[var.dims[1]].values.astype(str)):
                columns[f"{label}_{entry}"] = var.values[:, j]
        elif np.issubdtype(var.dtype, np.datetime64):
            utc = pd.DatetimeIndex(var.values).tz_localize("UTC")
            columns[f"{label}_utc"], columns[f"{label}_local"] = utc, utc.tz_convert(tz)
        else:
            columns[label] = var.values.astype(str) if var.dtype.kind in "US" else var.values
    return pd.DataFrame(columns)


#: Tables of the assets a run may have: CSV file name and dimension.
ASSET_TABLES = {"heat_networks.csv": "heat_network", "batteries.csv": "battery", "outages.csv": "outage"}


def _iso(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].map(lambda t: t.isoformat())
    return out


def export_csv(results: xr.Dataset, directory: str | Path) -> list[Path]:
    """Write the CSV files described in the module docstring into `directory`.

    Parameters
    ----------
    results : xarray.Dataset
        Results of a run (`energy_sim.open_results`).
    directory : str or Path
        Created if needed; files of the same names are replaced.

    Returns
    -------
    list of Path
        The files written.
    """
    require_horizon_results(results)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    energy = pd.DataFrame(results.wijk_e_mwh.values, columns=results.category.values.astype(str))
    energy.insert(0, "code", results.wijk.values.astype(str))
    energy.insert(1, "name", results.wijk_name.values.astype(str))
    tables = {
        "wijk_summary.csv": wijk_table(results),
        "wijk_energy_mwh.csv": energy,
        "trafos.csv": element_table(results, "trafo"),
        "lines.csv": element_table(results, "line"),
        "buses.csv": bus_table(results),
        "events.csv": events_table(results),
        "wijk_timeseries.csv": wijk_timeseries_table(results),
        **{name: dimension_table(results, dim) for name, dim in ASSET_TABLES.items() if dim in results.dims},
    }
    written = []
    for name, table in tables.items():
        path = directory / name
        # float_format=None writes the shortest repr that round-trips (full precision)
        _iso(table).to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written


def _fmt(value: float, digits: int) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:,.{digits}f}"


def markdown_memo(results: xr.Dataset) -> str:
    """A short council memo in Markdown: headline, per-wijk table, worst events, caveats."""
    ds = results
    require_horizon_results(ds)
    summary = summarise(ds)
    table = wijk_table(ds, summary)
    a = summary.attrs
    tz = a.get("time_zone", "Europe/Amsterdam")
    t = pd.DatetimeIndex(ds.time.values).tz_localize("UTC").tz_convert(tz)
    dt = pd.Timedelta(minutes=int(a["resolution_min"]))
    over = table[table.trafo_overload_h > 0].sort_values("trafo_overload_h", ascending=False)
    worst = table.loc[table.peak_trafo_loading_pct.idxmax()] if len(table) else None
    lines = [
        f"# Grid congestion — scenario {a.get('scenario_name')}",
        "",
        f"*{t[0]:%d %B %Y %H:%M} – {(t[-1] + dt):%d %B %Y %H:%M} ({tz}), {len(t)} steps of {a['resolution_min']} min; "
        f"{len(table)} wijk{'en' if len(table) != 1 else ''}, {int(table.homes.sum()):,} homes. "
        f"energy_sim {a.get('energy_sim_version')}, scenario hash {str(a.get('scenario_hash', ''))[:12]}, seed {a.get('seed')}.*",
        "",
        "## In short",
        "",
    ]
    if a.get("status") != "complete":
        lines += [f"**Warning: this run is {a.get('status')} — it did not finish; figures cover only the part that ran.**", ""]
    if worst is not None:
        lines.append(f"- The highest transformer loading is {worst.peak_trafo_loading_pct:.0f} % in {worst['name']}.")
    if len(over):
        names = ", ".join(f"{r['name']} ({r.trafo_overload_h:.1f} h)" for _, r in over.iterrows())
        lines.append(f"- {len(over)} of {len(table)} wijken have transformers above 100 % of their rating: {names}.")
        lines.append(f"- Energy transported above ratings: {table.energy_above_rating_mwh.sum():.2f} MWh in all.")
    else:
        lines.append("- No MV/LV transformer went above 100 % of its rating in this run.")
    low, high = np.asarray(a["voltage_band_pu"], dtype=float)
    v_out = table[table.voltage_violation_h > 0]
    lines.append(f"- Lowest LV voltage {table.vm_min_pu.min():.3f} pu (band {low:.2f}–{high:.2f} pu); "
                 + (f"{len(v_out)} of {len(table)} wijken outside the band at times." if len(v_out)
                    else "no wijk outside the band."))
    lines.append(f"- MV cables peak at {summary.mv_peak_loading_pct:.0f} %, the HV/MV station at "
                 f"{summary.station_peak_loading_pct:.0f} %.")
    lines += ["", "## Per wijk", "",
              "| wijk | code | homes | peak transformer loading [%] | hours above 100 % [h] | overloaded transformers | "
              "overloaded feeders | energy above rating [MWh] | lowest voltage [pu] | hours outside voltage band [h] |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['name']} | {r.code} | {r.homes:,} | {_fmt(r.peak_trafo_loading_pct, 1)} | "
                     f"{_fmt(r.trafo_overload_h, 2)} | {r.overloaded_trafos} | {r.overloaded_feeders} | "
                     f"{_fmt(r.energy_above_rating_mwh, 2)} | {_fmt(r.vm_min_pu, 3)} | {_fmt(r.voltage_violation_h, 2)} |")
    events = events_table(ds)
    lines += ["", "## Largest congestion events", ""]
    if len(events):
        top = events.sort_values("energy_above_rating_mwh", ascending=False).head(5)
        lines += ["| element | wijk | start | duration [h] | peak [%] | energy above rating [MWh] |",
                  "|---|---|---|---:|---:|---:|"]
        for _, e in top.iterrows():
            lines.append(f"| {e.element} | {e.wijk_name or e.wijk or 'MV'} | {e.start_local:%a %d %b %Y %H:%M} | "
                         f"{e.duration_h:.2f} | {e.peak_loading_pct:.0f} | {e.energy_above_rating_mwh:.3f} |")
        lines.append(f"\n{len(events)} event(s) in all; every one is in `events.csv` (`energy-sim export --csv`).")
    else:
        lines.append("No transformer or cable went above 100 % of its rating.")
    lines += ["", "## Not in these figures", ""]
    for label, present in future_results_status(ds):
        lines.append(f"- {label}: " + (f"see {', '.join(present)}" if present else NOT_SIMULATED) + ".")
    for note in [n for n in str(a.get("notes", "")).splitlines() if n.strip()]:
        lines.append(f"- {note}")
    lines += ["", "Generated by `energy-sim export --markdown`. Transformer loading is current-based; "
              "\"hours above 100 %\" counts hours in which at least one MV/LV transformer of the wijk is above its rating.", ""]
    return "\n".join(lines)


def export_markdown(results: xr.Dataset, path: str | Path) -> Path:
    """Write `markdown_memo` of `results` to `path` (UTF-8) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown_memo(results), encoding="utf-8")
    return path

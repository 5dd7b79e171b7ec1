"""Side-by-side comparison of several runs (2025 vs 2030, manager off vs on, ...).

The first run is the baseline; every other run gets its difference to it
(``other − baseline``) for each figure of the per-wijk summary
(`energy_sim.results.summary.summarise`) and for the MV network.

When runs can be compared (otherwise `RunsNotComparable`):

- every run is complete (a partial run covers only part of its horizon);
- they hold the same wijken (by CBS code; the order does not matter);
- they have the same resolution and the same number of steps.  The start
  may differ — another year is fine — because runs are compared by position
  in their horizon, not by date.  The only exception to equal length: two
  runs that each cover one whole year (365 or 366 days) are comparable, so
  that a leap year can be compared with a common one.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from energy_sim.results import plots
from energy_sim.results.export import extra_wijk_results
from energy_sim.results.store import open_results
from energy_sim.results.summary import summarise

#: (column of the summary table, label with unit, decimals)
METRICS: tuple[tuple[str, str, int], ...] = (
    ("peak_trafo_loading_pct", "peak MV/LV transformer loading [%]", 1),
    ("trafo_overload_h", "hours above 100 % [h]", 2),
    ("overloaded_trafos", "transformers above 100 %", 0),
    ("overloaded_feeders", "LV feeders above 100 %", 0),
    ("energy_above_rating_mwh", "energy above rating [MWh]", 2),
    ("vm_min_pu", "lowest LV voltage [pu]", 3),
    ("voltage_violation_h", "hours outside the voltage band [h]", 2),
    ("net_e_mwh", "net energy demand [MWh]", 1),
)
CITY_METRICS: tuple[tuple[str, str, int], ...] = (
    ("mv_peak_loading_pct", "peak MV cable loading [%]", 1),
    ("station_peak_loading_pct", "peak HV/MV station loading [%]", 1),
)
CITY = "city"
_YEAR_DAYS = (365.0, 366.0)


class RunsNotComparable(ValueError):
    """The runs cannot be put side by side; the message says why and what to do."""


@dataclass(frozen=True)
class RunInfo:
    """What identifies one compared run."""

    label: str
    source: str
    scenario_name: str
    scenario_hash: str
    start_local: pd.Timestamp
    end_local: pd.Timestamp
    n_steps: int
    resolution_min: int


@dataclass(frozen=True)
class Comparison:
    """Several runs side by side.

    Attributes
    ----------
    runs : list of RunInfo
        The runs, baseline first.
    table : pandas.DataFrame
        One row per (metric, wijk code); columns ``metric``, ``code``,
        ``name``, one column per run label with its value, and
        ``"Δ <label>"`` for each run after the first (value − baseline).
        City-wide figures have code ``"city"``.
    datasets : list of xarray.Dataset
        The compared results, in the order of `runs`.
    """

    runs: list[RunInfo]
    table: pd.DataFrame
    datasets: list[xr.Dataset] = field(repr=False)

    @property
    def labels(self) -> list[str]:
        """The run labels, baseline first."""
        return [r.label for r in self.runs]

    def text(self) -> str:
        """The comparison as plain-text tables, one per metric."""
        lines = [f"Comparing {len(self.runs)} runs; differences against the baseline {self.runs[0].label!r} "
                 "(runs aligned by position in their horizon)"]
        for r in self.runs:
            lines.append(f"  {r.label}: {r.start_local:%Y-%m-%d %H:%M} – {r.end_local:%Y-%m-%d %H:%M} "
                         f"({r.n_steps} steps of {r.resolution_min} min), hash {r.scenario_hash[:12]}, {r.source}")
        digits = {m: d for m, _, d in METRICS + CITY_METRICS}
        units = {m: label for m, label, _ in METRICS + CITY_METRICS}
        for metric, rows in self.table.groupby("metric", sort=False):
            d = digits.get(metric, 2)
            where = [n if c == CITY else f"{n} ({c})" for c, n in zip(rows.code, rows["name"])]
            width = max(len(w) for w in where)
            shown = pd.DataFrame({"wijk".ljust(width): [w.ljust(width) for w in where]})
            for column in [c for c in rows.columns if c not in ("metric", "code", "name")]:
                signed = column.startswith("Δ ")
                shown[column] = [_format(v, d, signed) for v in rows[column]]
            lines += ["", units.get(metric, metric), shown.to_string(index=False)]
        return "\n".join(lines)

    def as_json(self) -> dict:
        """A JSON-ready dictionary: the runs and one record per (metric, wijk)."""
        records = []
        for _, row in self.table.iterrows():
            records.append({
                "metric": row.metric, "code": row.code, "name": row["name"],
                "values": {label: _plain(row[label]) for label in self.labels},
                "differences": {label: _plain(row[f"Δ {label}"]) for label in self.labels[1:]},
            })
        return {
            "baseline": self.labels[0],
            "alignment": "by position in the horizon (same wijken, resolution and number of steps)",
            "runs": [{"label": r.label, "source": r.source, "scenario_name": r.scenario_name,
                      "scenario_hash": r.scenario_hash, "start_local": r.start_local.isoformat(),
                      "end_local": r.end_local.isoformat(), "n_steps": r.n_steps,
                      "resolution_min": r.resolution_min} for r in self.runs],
            "rows": records,
        }

    def html(self) -> str:
        """A self-contained HTML page: the side-by-side table and two figures."""
        from energy_sim.results.report import CSS  # one look for every page

        e = lambda v: html.escape(str(v), quote=True)  # noqa: E731
        labels = self.labels
        base = self.datasets[0]
        names = plots.wijk_labels(base)
        peaks = np.array([[float(self.table[(self.table.metric == "peak_trafo_loading_pct")
                                            & (self.table.code == c)][label].iloc[0]) for c in base.wijk.values.astype(str)]
                          for label in labels])
        fig_peak = plots.figure_svg(plots.compare_peak_figure(labels, names, peaks))
        fig_duration = plots.figure_svg(plots.compare_duration_figure(labels, self.datasets))
        digits = {m: d for m, _, d in METRICS + CITY_METRICS}
        titles = {m: label for m, label, _ in METRICS + CITY_METRICS}
        head = ('<tr><th class="text">figure</th><th class="text">wijk</th>'
                + "".join(f"<th>{e(label)}</th>" for label in labels)
                + "".join(f"<th>Δ {e(label)}</th>" for label in labels[1:]) + "</tr>")
        rows = []
        for _, row in self.table.iterrows():
            d = digits.get(row.metric, 2)
            where = row["name"] if row.code == CITY else f"{row['name']} ({row.code})"
            cells = "".join(f"<td>{_format(row[label], d, False)}</td>" for label in labels)
            cells += "".join(f'<td class="{_delta_class(row.metric, row[f"Δ {label}"])}">'
                             f'{_format(row[f"Δ {label}"], d, True)}</td>' for label in labels[1:])
            rows.append(f'<tr><td class="text">{e(titles.get(row.metric, row.metric))}</td>'
                        f'<td class="text">{e(where)}</td>{cells}</tr>')
        runs = "".join(f"<li><b>{e(r.label)}</b>: {r.start_local:%d %b %Y} – {r.end_local:%d %b %Y}, {r.n_steps:,} steps "
                       f"of {r.resolution_min} min, hash <code>{e(r.scenario_hash[:12])}</code> ({e(r.source)})</li>"
                       for r in self.runs)
        title = "Comparison — " + " vs ".join(labels)
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
                f"<style>{CSS} td.worse {{ color: var(--bad); font-weight: 600; }} td.better {{ color: var(--accent); "
                f"font-weight: 600; }}</style></head><body><header><h1>{e(title)}</h1><p>Baseline: {e(labels[0])}; "
                f"differences are other run − baseline; runs are aligned by position in their horizon.</p></header>"
                f'<main><section id="runs"><h2>Runs</h2><ul>{runs}</ul></section>'
                f'<section id="side-by-side"><h2>Side by side</h2><p class="lead">Red: worse than the baseline '
                f'(more loading, hours or energy above rating, lower voltage); green: better.</p><div>'
                f'<table id="compare-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div></section>'
                f'<section id="figures"><h2>Figures</h2><figure id="fig-compare-peak">{fig_peak}</figure>'
                f'<figure id="fig-compare-duration">{fig_duration}</figure></section></main></body></html>\n')


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    return value


def _format(value, digits: int, signed: bool) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


def _delta_class(metric: str, delta: float) -> str:
    if not np.isfinite(delta) or delta == 0 or metric == "net_e_mwh":
        return ""
    worse = delta < 0 if metric == "vm_min_pu" else delta > 0
    return "worse" if worse else "better"


def _days(ds: xr.Dataset) -> float:
    return ds.sizes["time"] * float(ds.attrs["resolution_min"]) / (24 * 60)


def check_comparable(datasets: Sequence[xr.Dataset], labels: Sequence[str]) -> None:
    """Raise `RunsNotComparable` unless the runs follow the rule of the module docstring."""
    if len(datasets) < 2:
        raise RunsNotComparable(f"compare needs at least two runs (got {len(datasets)}); "
                                "pass two or more results folders or results.nc files")
    base, base_label = datasets[0], labels[0]
    base_wijken = set(base.wijk.values.astype(str))
    for ds, label in zip(datasets, labels):
        status = ds.attrs.get("status", "complete")
        if status != "complete":
            raise RunsNotComparable(f"run {label!r} is {status}: it stopped before the end of its horizon "
                                    f"({ds.sizes['time']} steps written); run it to completion before comparing")
    for ds, label in zip(datasets[1:], labels[1:]):
        wijken = set(ds.wijk.values.astype(str))
        if wijken != base_wijken:
            differences = []
            if base_wijken - wijken:
                differences.append(f"{label!r} lacks {', '.join(sorted(base_wijken - wijken))}")
            if wijken - base_wijken:
                differences.append(f"{base_label!r} lacks {', '.join(sorted(wijken - base_wijken))}")
            raise RunsNotComparable(
                f"runs {base_label!r} and {label!r} hold different wijken ({'; '.join(differences)}); compare runs "
                f"of the same wijken, e.g. set `simulate: false` for the same wijken in both scenarios")
        res, base_res = int(ds.attrs["resolution_min"]), int(base.attrs["resolution_min"])
        if res != base_res:
            raise RunsNotComparable(
                f"run {label!r} has {res}-min steps and {base_label!r} {base_res}-min steps; runs are compared "
                f"step by step, so give both scenarios the same horizon.resolution_min")
        n, base_n = ds.sizes["time"], base.sizes["time"]
        whole_years = _days(ds) in _YEAR_DAYS and _days(base) in _YEAR_DAYS
        if n != base_n and not whole_years:
            raise RunsNotComparable(
                f"run {label!r} has {n} steps ({_days(ds):g} day(s)) and {base_label!r} {base_n} steps "
                f"({_days(base):g} day(s)); runs are compared by position in their horizon, so the horizons must "
                f"have the same length (a different start, e.g. another year, is fine)")


def _labels(datasets: Sequence[xr.Dataset], sources: Sequence[str]) -> list[str]:
    names = [str(ds.attrs.get("scenario_name", f"run {i + 1}")) for i, ds in enumerate(datasets)]
    labels = []
    for i, name in enumerate(names):
        label = name if names.count(name) == 1 else f"{name} [{Path(sources[i]).name or i + 1}]"
        while label in labels:
            label = f"{label}#{i + 1}"
        labels.append(label)
    return labels


def compare_runs(results: Sequence[str | Path | xr.Dataset], labels: Sequence[str] | None = None) -> Comparison:
    """Put several runs side by side, the first as baseline.

    Parameters
    ----------
    results : sequence of Dataset, run folder or results.nc
        Two or more runs.
    labels : sequence of str, optional
        One name per run; default the scenario names (made unique with the
        folder name when two runs share one).

    Raises
    ------
    RunsNotComparable
        When the runs cannot be aligned (see the module docstring).
    FileNotFoundError
        When a path holds no results.
    """
    datasets = [r if isinstance(r, xr.Dataset) else open_results(r) for r in results]
    sources = [("(Dataset)" if isinstance(r, xr.Dataset) else str(r)) for r in results]
    labels = list(labels) if labels is not None else _labels(datasets, sources)
    if len(labels) != len(datasets) or len(set(labels)) != len(labels):
        raise RunsNotComparable(f"give one distinct label per run ({len(datasets)} runs, labels {labels})")
    check_comparable(datasets, labels)

    codes = list(datasets[0].wijk.values.astype(str))
    names = dict(zip(codes, datasets[0].wijk_name.values.astype(str)))
    per_run: list[pd.DataFrame] = []
    city: list[dict[str, float]] = []
    for ds in datasets:
        summary = summarise(ds)
        table = summary.table.set_index("code")
        table["net_e_mwh"] = pd.Series(ds.wijk_e_mwh.sum("category").values, index=ds.wijk.values.astype(str))
        extra = extra_wijk_results(ds)
        per_run.append(table.join(extra) if not extra.empty else table)
        city.append({"mv_peak_loading_pct": summary.mv_peak_loading_pct,
                     "station_peak_loading_pct": summary.station_peak_loading_pct})
    metrics = [m for m, _, _ in METRICS]
    # per-wijk results later issues add: compared when every run has them
    metrics += [c for c in per_run[0].columns if c not in metrics and c not in ("name", "homes", "trafos")
                and all(c in t.columns for t in per_run)]
    rows = []
    for metric in metrics:
        for code in codes:
            row = {"metric": metric, "code": code, "name": names[code]}
            row.update({label: t.loc[code, metric] for label, t in zip(labels, per_run)})
            rows.append(row)
    for metric, _, _ in CITY_METRICS:
        row = {"metric": metric, "code": CITY, "name": "MV network" if metric.startswith("mv") else "HV/MV station"}
        row.update({label: c[metric] for label, c in zip(labels, city)})
        rows.append(row)
    table = pd.DataFrame(rows)
    for label in labels[1:]:
        table[f"Δ {label}"] = table[label].astype(float) - table[labels[0]].astype(float)

    infos = []
    for ds, label, source in zip(datasets, labels, sources):
        t = plots.local_time(ds)
        infos.append(RunInfo(label, source, str(ds.attrs.get("scenario_name")), str(ds.attrs.get("scenario_hash", "")),
                             t[0], t[-1] + pd.Timedelta(minutes=int(ds.attrs["resolution_min"])),
                             int(ds.sizes["time"]), int(ds.attrs["resolution_min"])))
    return Comparison(infos, table, datasets)

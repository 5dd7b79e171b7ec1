"""One self-contained HTML report of a run, for the municipality's analysts.

The file opens offline: CSS is inline, figures are inline SVG made with
matplotlib (Agg), and there is no script and no external reference.  Times
are shown in the scenario's time zone.  Sections:

1. the scenario and the run (name, horizon, hash, seed, version, status);
2. headline figures;
3. the per-wijk table (`energy_sim.results.summary.summarise`, plus any
   per-wijk result later issues add; the ones not simulated yet say so);
4. figures: wijken by location, heatmaps of transformer loading, load-duration
   curves, the worst day by category;
5. congestion events;
6. energy by category;
7. assumptions and notes.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from energy_sim.results import plots
from energy_sim.results.export import (
    NOT_SIMULATED,
    dimension_table,
    events_table,
    extra_wijk_results,
    future_results_status,
    require_horizon_results,
)
from energy_sim.results.store import open_results
from energy_sim.results.summary import RunSummary, summarise

#: ids of the figures every report holds (the tests look for each one)
FIGURE_IDS = ("fig-map", "fig-heatmap", "fig-day-hour", "fig-duration", "fig-worst-day")
MAX_EVENT_ROWS = 100

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; --accent:#0b6e4f; --bad:#b42318; --warn:#b54708; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); margin: 0;
       background: var(--bg); line-height: 1.45; font-size: 15px; }
header { background: #0b3d2e; color: #fff; padding: 22px 40px 18px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 600; }
header p { margin: 0; color: #cfe8dd; }
main { max-width: 1240px; margin: 0 auto; padding: 10px 40px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 24px; margin: 18px 0; }
h2 { font-size: 19px; margin: 0 0 10px; color: #0b3d2e; }
p.lead { color: var(--muted); margin-top: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fbfcfd; }
.card .value { font-size: 24px; font-weight: 600; }
.card .label { color: var(--muted); font-size: 13px; }
.card.bad { border-color: #f3b8b2; background: #fff6f5; } .card.bad .value { color: var(--bad); }
.card.ok .value { color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; position: sticky; top: 0; }
th.text, td.text { text-align: left; }
td.text { white-space: nowrap; }
tr:hover td { background: #f7faf9; }
td.over { color: var(--bad); font-weight: 600; }
td.na { color: var(--muted); font-style: italic; text-align: center; vertical-align: middle; }
.scroll { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
figure { margin: 14px 0 22px; }
figure svg { display: block; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 6px; }
.banner { background: #fff4e5; border: 1px solid #f6c27a; color: #7a3e00; border-radius: 8px; padding: 10px 14px; margin: 14px 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
ul.notes li { margin: 3px 0; }
code { background: #eef2f6; padding: 1px 4px; border-radius: 3px; font-size: 90%; }
footer { color: var(--muted); font-size: 12.5px; text-align: center; padding: 10px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float, digits: int, *, over: float | None = None, unit: str = "") -> str:
    if value is None or not np.isfinite(value):
        return '<td class="na">–</td>'
    cls = ' class="over"' if over is not None and value > over else ""
    smallest = 10.0 ** -digits
    if 0 < abs(value) < smallest / 2:  # say it is there, rather than print a red 0.00
        return f"<td{cls}>{'−' if value < 0 else ''}&lt; {smallest:.{digits}f}{unit}</td>"
    return f"<td{cls}>{value:,.{digits}f}{unit}</td>"


def _table(header: list[tuple[str, bool]], rows: list[str], table_id: str) -> str:
    head = "".join(f'<th class="text">{_e(h)}</th>' if text else f"<th>{_e(h)}</th>" for h, text in header)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _figure(fig_id: str, svg: str, caption: str) -> str:
    return f'<figure id="{fig_id}">{svg}<figcaption>{caption}</figcaption></figure>'


def _horizon(ds: xr.Dataset) -> tuple[pd.Timestamp, pd.Timestamp]:
    t = plots.local_time(ds)
    return t[0], t[-1] + pd.Timedelta(minutes=int(ds.attrs["resolution_min"]))


def _cards(summary: RunSummary) -> str:
    table = summary.table
    peak = table.peak_trafo_loading_pct.max()
    worst = table.loc[table.peak_trafo_loading_pct.idxmax()]
    n_over = int((table.trafo_overload_h > 0).sum())
    cards = [
        (f"{peak:.0f} %", f"highest MV/LV transformer loading ({worst['name']})", peak > 100),
        (f"{n_over} of {len(table)}", "wijken with a transformer above 100 %", n_over > 0),
        (f"{table.trafo_overload_h.max():.1f} h", "most hours above 100 % in one wijk", table.trafo_overload_h.max() > 0),
        (f"{int(table.overloaded_trafos.sum())} / {int(table.overloaded_feeders.sum())}",
         "overloaded transformers / LV feeders", table.overloaded_trafos.sum() + table.overloaded_feeders.sum() > 0),
        (f"{table.energy_above_rating_mwh.sum():.2f} MWh", "energy above ratings", table.energy_above_rating_mwh.sum() > 0),
        (f"{table.vm_min_pu.min():.3f} pu", "lowest LV voltage", table.voltage_violation_h.sum() > 0),
        (f"{summary.mv_peak_loading_pct:.0f} %", "peak MV cable loading", summary.mv_peak_loading_pct > 100),
        (f"{summary.station_peak_loading_pct:.0f} %", "peak HV/MV station loading", summary.station_peak_loading_pct > 100),
    ]
    body = "".join(f'<div class="card {"bad" if bad else "ok"}"><div class="value">{_e(v)}</div>'
                   f'<div class="label">{_e(label)}</div></div>' for v, label, bad in cards)
    return f'<div class="cards">{body}</div>'


def _peak_times(ds: xr.Dataset) -> list[str]:
    """Local time of each wijk's highest MV/LV transformer loading ("–" without data)."""
    t = plots.local_time(ds)
    values = ds.wijk_trafo_loading_max_pct.values
    return [f"{t[int(np.nanargmax(values[:, k]))]:%a %d %b %H:%M}" if np.isfinite(values[:, k]).any() else "–"
            for k in range(values.shape[1])]


def _headline(ds: xr.Dataset, summary: RunSummary) -> str:
    """One or two sentences a council member can quote."""
    table = summary.table
    over = table[table.trafo_overload_h > 0].sort_values("trafo_overload_h", ascending=False)
    day, k = plots.worst_day(ds)
    worst = table.iloc[k]
    peak_at = _peak_times(ds)[k]
    if len(over):
        names = ", ".join(f"{r['name']} ({r.trafo_overload_h:.1f} h)" for _, r in over.head(3).iterrows())
        more = f" and {len(over) - 3} more" if len(over) > 3 else ""
        text = (f"In {len(over)} of {len(table)} wijken at least one MV/LV transformer is loaded above its rating: "
                f"{names}{more}. The highest loading is {worst.peak_trafo_loading_pct:.0f} % in {worst['name']} "
                f"on {peak_at}.")
    else:
        text = (f"No MV/LV transformer is loaded above its rating; the highest loading is "
                f"{worst.peak_trafo_loading_pct:.0f} % in {worst['name']} on {peak_at}.")
    return f'<p id="headline">{_e(text)}</p>'


def _wijk_table(ds: xr.Dataset, summary: RunSummary) -> str:
    extra = extra_wijk_results(ds)
    header = [("wijk", True), ("code", True), ("homes", False), ("MV/LV trafos", False),
              ("peak trafo loading [%]", False), ("peak at", True), ("hours > 100 % [h]", False), ("trafos > 100 %", False),
              ("LV feeders > 100 %", False), ("energy above rating [MWh]", False), ("lowest voltage [pu]", False),
              ("hours outside voltage band [h]", False)]
    header += [(f"{ds[name].attrs.get('long_name', name)} [{ds[name].attrs.get('units', '')}]", False)
               for name in extra.columns]
    missing = [label for label, present in future_results_status(ds) if not present]
    header += [(label, False) for label in missing]
    low, _ = np.asarray(ds.attrs["voltage_band_pu"], dtype=float)
    peak_at = _peak_times(ds)
    rows = []
    for k, (_, r) in enumerate(summary.table.iterrows()):
        cells = [f'<td class="text">{_e(r["name"])}</td>', f'<td class="text">{_e(r.code)}</td>',
                 f"<td>{r.homes:,}</td>", f"<td>{r.trafos}</td>",
                 _num(r.peak_trafo_loading_pct, 1, over=100.0), f'<td class="text">{_e(peak_at[k])}</td>',
                 _num(r.trafo_overload_h, 2, over=0.0),
                 f'<td{" class=over" if r.overloaded_trafos else ""}>{r.overloaded_trafos}</td>',
                 f'<td{" class=over" if r.overloaded_feeders else ""}>{r.overloaded_feeders}</td>',
                 _num(r.energy_above_rating_mwh, 2, over=0.0),
                 _num(r.vm_min_pu, 3) if r.vm_min_pu >= low else f'<td class="over">{r.vm_min_pu:.3f}</td>',
                 _num(r.voltage_violation_h, 2, over=0.0)]
        cells += [_num(float(extra.loc[r.code, name]), 2) for name in extra.columns]
        if not rows:  # one cell spanning every wijk, per result not simulated yet
            cells += [f'<td class="na" rowspan="{len(summary.table)}">{NOT_SIMULATED}</td>' for _ in missing]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(header, rows, "wijk-table")


def _events_section(ds: xr.Dataset) -> str:
    events = events_table(ds)
    if not len(events):
        return ('<p id="events-none">No transformer or cable went above 100 % of its rating in this run, '
                'so there are no congestion events.</p>')
    shown = events.sort_values("energy_above_rating_mwh", ascending=False, kind="stable").head(MAX_EVENT_ROWS)
    header = [("element", True), ("level", True), ("wijk", True), ("start", True), ("end", True),
              ("duration [h]", False), ("peak loading [%]", False), ("energy above rating [MWh]", False)]
    rows = []
    for _, e in shown.iterrows():
        where = e.wijk_name or e.wijk or "MV network"
        rows.append(f'<tr><td class="text">{_e(e.element)}</td><td class="text">{_e(e.level or e.kind)}</td>'
                    f'<td class="text">{_e(where)}</td><td class="text">{e.start_local:%a %d %b %Y %H:%M}</td>'
                    f'<td class="text">{e.end_local:%a %d %b %H:%M}</td>{_num(e.duration_h, 2)}'
                    f'{_num(e.peak_loading_pct, 1, over=100.0)}{_num(e.energy_above_rating_mwh, 3)}</tr>')
    more = (f"<p>Showing the {MAX_EVENT_ROWS} largest of {len(events)} events by energy above the rating; "
            "<code>energy-sim export --csv</code> writes all of them.</p>" if len(events) > MAX_EVENT_ROWS else
            f"<p>{len(events)} event(s), largest energy above the rating first.</p>")
    return more + f'<div class="scroll">{_table(header, rows, "events-table")}</div>'


def _interventions_section(ds: xr.Dataset) -> str:
    """The congestion manager's log: when, where, what, how much EV energy it shifted."""
    manager = ds.attrs.get("congestion_manager", "off")
    if "intervention" not in ds.dims:
        return f'<p id="interventions-none">The congestion manager was {_e(manager)}; no interventions were possible.</p>'
    n = ds.sizes["intervention"]
    if n == 0:
        return (f'<p id="interventions-none">The congestion manager was {_e(manager)} and made no interventions '
                f'in this run.</p>')
    tz = ds.attrs.get("time_zone", "Europe/Amsterdam")
    when = pd.DatetimeIndex(ds.intervention_time.values).tz_localize("UTC").tz_convert(tz)
    header = [("block starting", True), ("element", True), ("measure", True), ("forecast loading [%]", False),
              ("planned loading [%]", False), ("lowest cap [kW]", False), ("EV energy shifted [kWh]", False)]
    rows = []
    for k in range(min(n, MAX_EVENT_ROWS)):
        rows.append(f'<tr><td class="text">{when[k]:%a %d %b %Y %H:%M}</td>'
                    f'<td class="text">{_e(str(ds.intervention_element.values[k]))}</td>'
                    f'<td class="text">{_e(str(ds.intervention_measure.values[k]))}</td>'
                    f'{_num(float(ds.intervention_forecast_loading_pct.values[k]), 1, over=100.0)}'
                    f'{_num(float(ds.intervention_planned_loading_pct.values[k]), 1, over=100.0)}'
                    f'{_num(float(ds.intervention_cap_min_kw.values[k]), 1)}'
                    f'{_num(float(ds.intervention_energy_shifted_kwh.values[k]), 1)}</tr>')
    total = float(ds.intervention_energy_shifted_kwh.sum())
    intro = (f"<p>The congestion manager ({_e(manager)}) made {n} intervention(s) and shifted {total:,.1f} kWh of "
             f"EV charging to later hours{f'; the first {MAX_EVENT_ROWS} are shown' if n > MAX_EVENT_ROWS else ''}.</p>")
    return intro + f'<div class="scroll">{_table(header, rows, "interventions-table")}</div>'


def _heat_and_batteries_section(ds: xr.Dataset) -> str:
    """Heat balance per heat network and the energy through each battery (empty when the run has neither)."""
    parts = []
    if ds.sizes.get("heat_network", 0):
        hn = dimension_table(ds, "heat_network")
        sources = [str(s) for s in ds.heat_source.values]
        header = ([("heat network", True), ("wijk", True), ("dwellings", False), ("heat delivered [MWh]", False)]
                  + [(f"heat from {s.replace('_', ' ')} [MWh]", False) for s in sources]
                  + [("unserved heat [MWh]", False), ("gas [MWh]", False), ("electricity [MWh]", False)])
        rows = [f'<tr><td class="text">{_e(h.heat_network)}</td><td class="text">{_e(h.wijk)}</td>'
                f'{_num(float(h.dwellings), 0)}{_num(h.demand_mwh, 1)}'
                + "".join(_num(h[f"heat_mwh_{s}"], 1) for s in sources)
                + f'{_num(h.unserved_mwh, 2, over=0.0)}{_num(h.gas_mwh, 1)}{_num(h.electricity_mwh, 1)}</tr>'
                for _, h in hn.iterrows()]
        parts.append('<p class="lead">Heat networks: heat delivered to the connected dwellings by source in merit '
                     'order, the gas of the peak boilers and the electricity the plant draws from the MV grid.</p>'
                     + _table(header, rows, "heat-networks-table"))
    if ds.sizes.get("battery", 0):
        bt = dimension_table(ds, "battery")
        header = [("battery", True), ("wijk", True), ("level", True), ("dispatch", True), ("power [MW]", False),
                  ("energy [MWh]", False), ("charged [MWh]", False), ("discharged [MWh]", False),
                  ("state of charge at the end", False)]
        rows = [f'<tr><td class="text">{_e(b.battery)}</td><td class="text">{_e(b.wijk)}</td>'
                f'<td class="text">{_e(b.level)}</td><td class="text">{_e(b.dispatch)}</td>{_num(b.p_mw, 2)}'
                f'{_num(b.e_mwh, 2)}{_num(b.charged_mwh, 2)}{_num(b.discharged_mwh, 2)}{_num(100 * b.soc_end_frac, 0, unit=" %")}</tr>'
                for b in bt.itertuples(index=False)]
        parts.append('<p class="lead">Batteries: energy drawn from and fed to the grid over the horizon.</p>'
                     + _table(header, rows, "batteries-table"))
    return "".join(parts)


def _outages_section(ds: xr.Dataset) -> str:
    """The outages applied in the run with the energy they left unserved."""
    n = ds.sizes.get("outage", 0)
    if not n:
        return '<p id="outages-none">No outages were simulated in this run (the scenario has no <code>outages</code> section, or no random outage fell in the horizon).</p>'
    table = dimension_table(ds, "outage").sort_values("start_utc", kind="stable")
    header = [("outage", True), ("element", True), ("kind", True), ("wijk", True), ("origin", True), ("from", True),
              ("until", True), ("energy not served [MWh]", False), ("production lost [MWh]", False)]
    rows = [f'<tr><td class="text">{_e(o.name)}</td><td class="text">{_e(o.element)}</td>'
            f'<td class="text">{_e(o.kind.replace("_", " "))}</td><td class="text">{_e(o.wijk)}</td>'
            f'<td class="text">{_e(o.origin)}</td><td class="text">{o.start_local:%a %d %b %Y %H:%M}</td>'
            f'<td class="text">{o.end_local:%a %d %b %Y %H:%M}</td>{_num(o.energy_not_served_mwh, 3, over=0.0)}'
            f'{_num(o.production_lost_mwh, 3)}</tr>' for o in table.head(MAX_EVENT_ROWS).itertuples(index=False)]
    total = float(table.energy_not_served_mwh.sum())
    intro = (f"<p>{n} outage(s) in the horizon left {total:,.3f} MWh of consumption without supply"
             f"{f'; the first {MAX_EVENT_ROWS} are shown' if n > MAX_EVENT_ROWS else ''}.</p>")
    return intro + f'<div class="scroll">{_table(header, rows, "outages-table")}</div>'


def _energy_section(ds: xr.Dataset) -> str:
    categories = [str(c) for c in ds.category.values]
    e = ds.wijk_e_mwh.values
    active = [j for j in range(len(categories)) if np.any(e[:, j] != 0)]
    idle = [plots.CATEGORY_LABELS.get(categories[j], categories[j]) for j in range(len(categories)) if j not in active]
    header = [("wijk", True)] + [(f"{plots.CATEGORY_LABELS.get(categories[j], categories[j])} [MWh]", False)
                                 for j in active] + [("net [MWh]", False)]
    rows = []
    for k, name in enumerate(plots.wijk_labels(ds)):
        cells = "".join(_num(float(e[k, j]), 1) for j in active)
        rows.append(f'<tr><td class="text">{_e(name)}</td>{cells}{_num(float(e[k].sum()), 1)}</tr>')
    note = (f"<p>No energy at all in: {_e(', '.join(idle))} — either not simulated yet (see the notes below) or "
            "no such assets in this scenario.</p>") if idle else ""
    return ('<p class="lead">Energy over the horizon; consumption positive, generation negative.</p>'
            + _table(header, rows, "energy-table") + note)


def _meta_section(ds: xr.Dataset) -> str:
    a = ds.attrs
    start, end = _horizon(ds)
    low, high = np.asarray(a["voltage_band_pu"], dtype=float)
    items = [
        ("scenario", f"{a.get('scenario_name')} (version {a.get('scenario_version', '–')})"),
        ("horizon", f"{start:%d %b %Y %H:%M} – {end:%d %b %Y %H:%M} {a.get('time_zone')}"),
        ("time steps", f"{ds.sizes['time']:,} of {a.get('resolution_min')} min"),
        ("wijken / homes", f"{ds.sizes['wijk']} / {int(ds.wijk_homes.sum()):,}"),
        ("grid", f"{int((ds.trafo_level == 'mv/lv').sum())} MV/LV transformers, "
                 f"{int((ds.line_level == 'lv').sum())} LV feeders, {int((ds.line_level == 'mv').sum())} MV cables, "
                 f"{ds.sizes['bus']:,} LV buses"),
        ("voltage band", f"{low:.2f}–{high:.2f} pu (EN 50160)"),
        ("seed", a.get("seed")),
        ("scenario hash", a.get("scenario_hash")),
        ("energy_sim version", a.get("energy_sim_version")),
        ("status", a.get("status")),
        ("created", a.get("created_utc", "–")),
        ("run time", f"{float(a.get('wall_time_s', np.nan)):.1f} s"),
        ("load-flow steps not converged", a.get("not_converged_steps", 0)),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    notes = [n for n in str(a.get("notes", "")).splitlines() if n.strip()]
    notes += [f"{label}: {NOT_SIMULATED}" for label, present in future_results_status(ds) if not present]
    note_items = "".join(f"<li>{_e(n)}</li>" for n in notes) or "<li>none</li>"
    definitions = (
        "<ul class='notes'>"
        "<li><b>Loading</b> is current-based, in % of the rating; 100 % is the rating.</li>"
        "<li><b>Hours above 100 %</b> count the hours in which at least one MV/LV transformer of the wijk is above its rating.</li>"
        "<li><b>Energy above rating</b> is the energy transported above the rating, summed over the wijk's "
        "MV/LV transformers and LV feeder heads.</li>"
        "<li><b>Congestion event</b>: one element above 100 % without a break.</li>"
        "<li>Times are in the scenario's time zone; results are stored in UTC.</li></ul>")
    return (f'<dl class="meta">{rows}</dl><h3>Notes — what this run does not include</h3>'
            f'<ul class="notes" id="notes">{note_items}</ul><h3>How to read the figures</h3>{definitions}')


def render_report(results: xr.Dataset, *, title: str | None = None) -> str:
    """The HTML report of a run, as one self-contained string.

    Parameters
    ----------
    results : xarray.Dataset
        Results of a run (`energy_sim.open_results`) with its horizon-wide
        results; a run flagged partial that has them gets a warning banner.
    title : str, optional
        Page title; default ``"Grid congestion — <scenario name>"``.

    Raises
    ------
    IncompleteResults
        When the run stopped before its end and has no horizon-wide results.
    """
    ds = results
    require_horizon_results(ds)
    summary = summarise(ds)
    a = ds.attrs
    title = title or f"Grid congestion — {a.get('scenario_name')}"
    start, end = _horizon(ds)
    day, k_worst = plots.worst_day(ds)
    tz = a.get("time_zone", "Europe/Amsterdam")
    banner = ""
    if a.get("status") != "complete":
        banner = (f'<div class="banner" id="partial-banner">This run is <b>{_e(a.get("status"))}</b>: it stopped before '
                  f"the end of its horizon; every figure covers only the {ds.sizes['time']:,} steps that ran.</div>")
    figures = "".join([
        _figure("fig-map", plots.figure_svg(plots.wijk_map_figure(ds, summary.table)),
                "Each circle is a wijk at its centre coordinates; its area grows with the number of homes and its "
                "colour shows the peak loading of its most loaded MV/LV transformer (green low, yellow at the rating, "
                "red above). A dark ring marks a wijk above 100 %."),
        _figure("fig-heatmap", plots.figure_svg(plots.loading_heatmap_figure(ds)),
                f"Loading of the most loaded MV/LV transformer in each wijk over the horizon ({_e(tz)}). "
                "Red bands show where and when the grid is full."),
        _figure("fig-day-hour", plots.figure_svg(plots.day_hour_heatmap_figure(ds)),
                "The same loading folded into days (across) and hours of the day (up): the maximum over all wijken. "
                "Enexis warns of peaks 07–10 h and 16–21 h on cold days."),
        _figure("fig-duration", plots.figure_svg(plots.load_duration_figure(ds)),
                "How many hours each loading is reached or exceeded. Where a curve crosses the dotted 100 % line "
                "gives the hours of overload."),
        _figure("fig-worst-day", plots.figure_svg(plots.worst_day_figure(ds)),
                f"The day with the highest transformer loading of the run ({day:%d %B %Y}, "
                f"{_e(plots.wijk_labels(ds)[k_worst])}): power by category, stacked — consumption above zero, "
                "generation below — with the net demand the grid carries, and the loading of the wijk's most loaded "
                "MV/LV transformer underneath."),
    ])
    assets = _heat_and_batteries_section(ds)
    body = f"""
<header><h1>{_e(title)}</h1>
<p>{_e(a.get('scenario_name'))} · {start:%d %b %Y} – {end:%d %b %Y} ({_e(tz)}) · {ds.sizes['wijk']} wijk(en),
{int(ds.wijk_homes.sum()):,} homes · energy_sim {_e(a.get('energy_sim_version'))}</p></header>
<main>
{banner}
<section id="summary"><h2>In short</h2>
<p class="lead">Where, when and by how much the electricity grid congests in this scenario.</p>
{_headline(ds, summary)}
{_cards(summary)}</section>
<section id="wijken"><h2>Per wijk</h2>
<p class="lead">Red figures are above the rating or outside the voltage band. Results later versions add
(EV energy not delivered, curtailment, interventions) read “{NOT_SIMULATED}” until they are simulated.</p>
<div class="scroll">{_wijk_table(ds, summary)}</div></section>
<section id="figures"><h2>Where and when</h2>{figures}</section>
<section id="events"><h2>Congestion events</h2>{_events_section(ds)}</section>
<section id="interventions"><h2>Congestion management</h2>{_interventions_section(ds)}</section>
<section id="energy"><h2>Energy by category</h2>{_energy_section(ds)}</section>
{f'<section id="heat-and-batteries"><h2>Heat networks and batteries</h2>{assets}</section>' if assets else ""}
<section id="outages"><h2>Outages</h2>{_outages_section(ds)}</section>
<section id="assumptions"><h2>Scenario, assumptions and notes</h2>{_meta_section(ds)}</section>
</main>
<footer>Made by energy_sim {_e(a.get('energy_sim_version'))} from results of scenario {_e(a.get('scenario_name'))}
(hash {_e(str(a.get('scenario_hash', ''))[:12])}). Self-contained: no network access needed.</footer>
"""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")


def write_report(results: str | Path | xr.Dataset, path: str | Path) -> Path:
    """Render the report of `results` (a Dataset, run folder or ``results.nc``) to `path`."""
    ds = results if isinstance(results, xr.Dataset) else open_results(results)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(ds), encoding="utf-8")
    return path

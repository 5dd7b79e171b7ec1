"""The per-wijk summary table printed at the end of a run.

Columns (per wijk):

- ``homes``, ``trafos`` — homes simulated, MV/LV transformers;
- ``peak_trafo_loading_pct`` — the highest loading of any of its transformers;
- ``trafo_overload_h`` — hours in which at least one of its transformers is above 100 %;
- ``overloaded_trafos`` / ``overloaded_feeders`` — how many were ever above 100 %;
- ``energy_above_rating_mwh`` — over its transformers and feeder heads;
- ``vm_min_pu`` — the lowest LV voltage;
- ``voltage_violation_h`` — hours in which any of its LV buses is outside the band.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from energy_sim.results.store import open_results


@dataclass(frozen=True)
class RunSummary:
    """Per-wijk congestion figures of one run, plus what describes the run."""

    table: pd.DataFrame
    attrs: dict
    mv_peak_loading_pct: float
    station_peak_loading_pct: float
    interventions: int | None = None
    energy_shifted_kwh: float = 0.0

    def text(self, results_path: Path, wall_time_s: float, notes: list[str]) -> str:
        a = self.attrs
        header = (
            f"Scenario {a.get('scenario_name')} (hash {str(a.get('scenario_hash', ''))[:12]}, seed {a.get('seed')}), "
            f"{a.get('n_steps')} steps of {a.get('resolution_min')} min"
        )
        shown = self.table.rename(columns={
            "name": "wijk", "homes": "homes", "trafos": "trafos",
            "peak_trafo_loading_pct": "peak trafo %", "trafo_overload_h": "h >100%",
            "overloaded_trafos": "trafos >100%", "overloaded_feeders": "feeders >100%",
            "energy_above_rating_mwh": "MWh >rating", "vm_min_pu": "min V pu", "voltage_violation_h": "h V out of band",
            "ev_undelivered_kwh": "EV kWh undelivered",
        })
        formats = {"min V pu": "{:.3f}".format, "peak trafo %": "{:.1f}".format, "h >100%": "{:.2f}".format,
                   "MWh >rating": "{:.2f}".format, "h V out of band": "{:.2f}".format,
                   "EV kWh undelivered": "{:.1f}".format}
        body = shown.to_string(index=False, formatters=formats)
        lines = [header, "", body, "",
                 f"MV network: peak cable loading {self.mv_peak_loading_pct:.1f} %, "
                 f"peak HV/MV station loading {self.station_peak_loading_pct:.1f} %",
                 f"Results: {results_path}  ({wall_time_s:.1f} s)"]
        if self.interventions is not None:
            lines.insert(-1, f"Congestion manager: {self.interventions} intervention(s), "
                             f"{self.energy_shifted_kwh:.1f} kWh shifted (EV charging, heat pumps)")
        lines += [f"Note: {n}" for n in notes]
        return "\n".join(lines)

    def as_json(self, results_path: Path, wall_time_s: float, notes: list[str]) -> dict:
        return {
            "scenario": {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self.attrs.items()
                         if k in ("scenario_name", "scenario_hash", "seed", "energy_sim_version", "n_steps")},
            "results": str(results_path),
            "wall_time_s": round(wall_time_s, 3),
            "mv_peak_loading_pct": self.mv_peak_loading_pct,
            "station_peak_loading_pct": self.station_peak_loading_pct,
            "wijken": self.table.to_dict(orient="records"),
            "interventions": self.interventions,
            "energy_shifted_kwh": self.energy_shifted_kwh,
            "notes": notes,
        }


def summarise(results: str | Path | xr.Dataset) -> RunSummary:
    """The summary of a run, from its results file or Dataset."""
    ds = results if isinstance(results, xr.Dataset) else open_results(results)
    dt_h = float(ds.attrs["resolution_min"]) / 60.0
    low, high = np.asarray(ds.attrs["voltage_band_pu"], dtype=float)
    rows = []
    for k, code in enumerate(ds.wijk.values):
        trafos = (ds.trafo_wijk == code) & (ds.trafo_level == "mv/lv")
        feeders = (ds.line_wijk == code) & (ds.line_level == "lv")
        t_max = ds.wijk_trafo_loading_max_pct.isel(wijk=k)
        out_of_band = (ds.wijk_vm_min_pu.isel(wijk=k) < low) | (ds.wijk_vm_max_pu.isel(wijk=k) > high)
        rows.append({
            "code": str(code),
            "name": str(ds.wijk_name.values[k]),
            "homes": int(ds.wijk_homes.values[k]),
            "trafos": int(trafos.sum()),
            "peak_trafo_loading_pct": float(ds.trafo_peak_loading_pct.where(trafos).max()),
            "trafo_overload_h": float((t_max > 100.0).sum()) * dt_h,
            "overloaded_trafos": int(((ds.trafo_overload_h > 0) & trafos).sum()),
            "overloaded_feeders": int(((ds.line_overload_h > 0) & feeders).sum()),
            "energy_above_rating_mwh": float(ds.trafo_energy_above_rating_mwh.where(trafos).sum()
                                             + ds.line_energy_above_rating_mwh.where(feeders).sum()),
            "vm_min_pu": float(ds.wijk_vm_min_pu.isel(wijk=k).min()),
            "voltage_violation_h": float(out_of_band.sum()) * dt_h,
        })
        if "wijk_ev_undelivered_kwh" in ds:
            rows[-1]["ev_undelivered_kwh"] = float(ds.wijk_ev_undelivered_kwh.values[k])
    mv_lines = ds.line_level == "mv"
    stations = ds.trafo_level == "hv/mv"
    attrs = {**ds.attrs, "n_steps": int(ds.sizes["time"])}
    return RunSummary(
        table=pd.DataFrame(rows),
        attrs=attrs,
        mv_peak_loading_pct=float(ds.line_peak_loading_pct.where(mv_lines).max()),
        station_peak_loading_pct=float(ds.trafo_peak_loading_pct.where(stations).max()),
        interventions=int(ds.sizes["intervention"]) if "intervention" in ds.dims else None,
        energy_shifted_kwh=float(ds.intervention_energy_shifted_kwh.sum()) if "intervention" in ds.dims else 0.0,
    )

"""`energy-sim export`: CSV values equal the Dataset's, the memo names every wijk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_sim.results.export import export_csv, markdown_memo


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energy_sim.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def exported(smoke_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    done = cli("export", str(smoke_run), "--csv", str(folder / "csv"), "--markdown", str(folder / "memo.md"), "--json",
               cwd=folder)
    assert done.returncode == 0, done.stderr
    files = [Path(f) for f in json.loads(done.stdout)["files"]]
    assert {f.name for f in files} == {"wijk_summary.csv", "wijk_energy_mwh.csv", "trafos.csv", "lines.csv",
                                       "buses.csv", "events.csv", "wijk_timeseries.csv", "outages.csv", "memo.md"}
    return folder


# read_csv needs float_precision="round_trip": its default parser can be 1 ulp off what was written


def test_element_csv_values_equal_the_dataset(exported, smoke_ds):
    trafos = pd.read_csv(exported / "csv" / "trafos.csv", keep_default_na=False, float_precision="round_trip")
    assert trafos.trafo.tolist() == smoke_ds.trafo.values.tolist()
    assert trafos.level.tolist() == smoke_ds.trafo_level.values.tolist()
    # float32 results are written at full precision: reading back and casting gives the same bits
    np.testing.assert_array_equal(trafos.peak_loading_pct.to_numpy(np.float32), smoke_ds.trafo_peak_loading_pct.values)
    np.testing.assert_array_equal(trafos.trafo_sn_mva, smoke_ds.trafo_sn_mva.values)
    np.testing.assert_array_equal(trafos.energy_above_rating_mwh, smoke_ds.trafo_energy_above_rating_mwh.values)
    lines = pd.read_csv(exported / "csv" / "lines.csv", keep_default_na=False, float_precision="round_trip")
    assert len(lines) == smoke_ds.sizes["line"] == 15
    np.testing.assert_array_equal(lines.peak_loading_pct.to_numpy(np.float32), smoke_ds.line_peak_loading_pct.values)
    np.testing.assert_array_equal(lines.line_s_rated_mva, smoke_ds.line_s_rated_mva.values)
    buses = pd.read_csv(exported / "csv" / "buses.csv", float_precision="round_trip")
    np.testing.assert_array_equal(buses.vm_min_pu.to_numpy(np.float32), smoke_ds.bus_vm_min_pu.values)


def test_wijk_csv_values_equal_the_dataset(exported, smoke_ds):
    summary = pd.read_csv(exported / "csv" / "wijk_summary.csv", float_precision="round_trip")
    mv_lv = smoke_ds.trafo_level.values == "mv/lv"
    assert summary.code.tolist() == ["WK016405"] and summary["name"].tolist() == ["Berflo Es"]
    assert summary.peak_trafo_loading_pct[0] == float(smoke_ds.trafo_peak_loading_pct.values[mv_lv].max())
    assert summary.homes[0] == 350 and summary.trafos[0] == 2
    energy = pd.read_csv(exported / "csv" / "wijk_energy_mwh.csv", float_precision="round_trip")
    categories = smoke_ds.category.values.tolist()
    np.testing.assert_array_equal(energy[categories].to_numpy(), smoke_ds.wijk_e_mwh.values)
    series = pd.read_csv(exported / "csv" / "wijk_timeseries.csv", float_precision="round_trip")
    assert len(series) == 672
    assert series.time_utc[0] == "2025-01-05T23:00:00+00:00" and series.time_local[0] == "2025-01-06T00:00:00+01:00"
    np.testing.assert_array_equal(series.trafo_loading_max_pct.to_numpy(np.float32),
                                  smoke_ds.wijk_trafo_loading_max_pct.values[:, 0])
    np.testing.assert_allclose(series.net_p_mw, smoke_ds.wijk_p_mw.values[:, 0, :].astype(float).sum(axis=1), rtol=1e-5)


def test_events_csv_carries_wijk_and_local_times(smoke_ds, tmp_path):
    # the smoke week has no overloads; give it two events to export
    ds = smoke_ds.drop_dims("event").assign(
        event_element=("event", ["WK016405/MSR02", smoke_ds.line.values[0]]),
        event_kind=("event", ["trafo", "line"]),
        event_start=("event", np.array(["2025-01-06T16:00", "2025-07-01T10:00"], dtype="datetime64[ns]")),
        event_end=("event", np.array(["2025-01-06T17:30", "2025-07-01T10:15"], dtype="datetime64[ns]")),
        event_peak_loading_pct=("event", np.array([112.5, 104.0], dtype=np.float32)),
        event_energy_above_rating_mwh=("event", [0.0125, 0.001]),
    )
    export_csv(ds, tmp_path)
    events = pd.read_csv(tmp_path / "events.csv", keep_default_na=False, float_precision="round_trip")
    assert events.wijk.tolist() == ["WK016405", "WK016405"] and events.wijk_name[0] == "Berflo Es"
    assert events.level.tolist() == ["mv/lv", "lv"]
    # 16:00 UTC in January is 17:00 CET; 10:00 UTC in July is 12:00 CEST
    assert events.start_local.tolist() == ["2025-01-06T17:00:00+01:00", "2025-07-01T12:00:00+02:00"]
    assert events.end_utc[0] == "2025-01-06T17:30:00+00:00"
    np.testing.assert_allclose(events.duration_h, [1.5, 0.25])
    np.testing.assert_array_equal(events.energy_above_rating_mwh, [0.0125, 0.001])
    assert "WK016405/MSR02" in markdown_memo(ds)  # the memo lists the largest events


def test_markdown_memo_names_every_wijk(exported, smoke_ds):
    memo = (exported / "memo.md").read_text(encoding="utf-8")
    for code, name in zip(smoke_ds.wijk.values, smoke_ds.wijk_name.values):
        assert f"| {name} | {code} |" in memo
    mv_lv = smoke_ds.trafo_level.values == "mv/lv"
    peak = float(smoke_ds.trafo_peak_loading_pct.values[mv_lv].max())
    assert f"highest transformer loading is {peak:.0f} % in Berflo Es" in memo
    assert "No MV/LV transformer went above 100 %" in memo  # peak ~24 %: the smoke week does not congest
    for label in ("undelivered EV energy", "curtailed energy", "interventions"):
        assert f"- {label}: not simulated yet." in memo


def test_export_without_a_target_says_what_to_add(smoke_run, capsys):
    from energy_sim.cli import main

    assert main(["export", str(smoke_run)]) == 2
    assert "--csv DIR" in capsys.readouterr().err

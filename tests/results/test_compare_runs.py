"""`energy-sim compare`: two weeks five years apart side by side, and runs that cannot be aligned."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import energy_sim
from energy_sim.cli import main
from energy_sim.results.compare import RunsNotComparable, check_comparable


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energy_sim.cli", *args], capture_output=True, text=True, cwd=cwd)


def hand_figures(ds: xr.Dataset) -> dict[str, float]:
    """The compared figures of a one-wijk run, straight from its time series."""
    mv_lv = ds.trafo_level.values == "mv/lv"
    mv = ds.line_level.values == "mv"
    dt_h = 0.25  # 15-min steps
    return {
        "peak_trafo_loading_pct": float(ds.trafo_loading_pct.values[:, mv_lv].max()),
        "trafo_overload_h": float((ds.trafo_loading_pct.values[:, mv_lv].max(axis=1) > 100).sum() * dt_h),
        "vm_min_pu": float(ds.wijk_vm_min_pu.values.min()),
        "net_e_mwh": float(ds.wijk_p_mw.values.astype(np.float64).sum() * dt_h),
        "mv_peak_loading_pct": float(ds.line_loading_pct.values[:, mv].max()),
    }


@pytest.fixture(scope="module")
def compared(smoke_run, smoke_2030_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    done = cli("compare", str(smoke_run), str(smoke_2030_run), "-o", str(folder / "compare.html"), "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), folder / "compare.html"


def test_two_years_side_by_side_with_differences(compared, smoke_run, smoke_2030_run):
    record, _ = compared
    a, b = energy_sim.open_results(smoke_run), energy_sim.open_results(smoke_2030_run)
    assert [r["label"] for r in record["runs"]] == ["smoke", "smoke-2030"]
    assert record["runs"][1]["start_local"].startswith("2030-01-07T00:00:00+01:00")
    hand_a, hand_b = hand_figures(a), hand_figures(b)
    rows = {(r["metric"], r["code"]): r for r in record["rows"]}
    for metric in hand_a:
        code = "city" if metric.startswith("mv_") else "WK016405"
        row = rows[(metric, code)]
        np.testing.assert_allclose(row["values"]["smoke"], hand_a[metric], rtol=1e-5, err_msg=metric)
        np.testing.assert_allclose(row["values"]["smoke-2030"], hand_b[metric], rtol=1e-5, err_msg=metric)
        np.testing.assert_allclose(row["differences"]["smoke-2030"], hand_b[metric] - hand_a[metric],
                                   rtol=1e-5, atol=1e-9, err_msg=metric)
    # 40 % heat pumps in a January week: more demand and a higher peak than the baseline
    assert hand_b["net_e_mwh"] > hand_a["net_e_mwh"] and hand_b["peak_trafo_loading_pct"] > hand_a["peak_trafo_loading_pct"]


def test_text_table_names_both_runs_and_the_signed_difference(smoke_run, smoke_2030_run, capsys):
    assert main(["compare", str(smoke_run), str(smoke_2030_run)]) == 0
    out = capsys.readouterr().out
    a, b = energy_sim.open_results(smoke_run), energy_sim.open_results(smoke_2030_run)
    delta = hand_figures(b)["peak_trafo_loading_pct"] - hand_figures(a)["peak_trafo_loading_pct"]
    assert "Δ smoke-2030" in out and "Berflo Es (WK016405)" in out
    assert f"{delta:+.1f}" in out


def test_comparison_page_is_written_and_self_contained(compared):
    _, page = compared
    text = page.read_text(encoding="utf-8")
    for element in ('id="compare-table"', 'id="fig-compare-peak"', 'id="fig-compare-duration"', "smoke-2030"):
        assert element in text
    assert "<script" not in text and 'href="http' not in text and 'src="http' not in text


@pytest.mark.parametrize("change, expected", [
    (lambda ds: ds.isel(time=slice(0, 96)), "96 steps (1 day(s)) and 'smoke' 672 steps"),
    (lambda ds: ds.assign_coords(wijk=["WK016406"]), "'other' lacks WK016405; 'smoke' lacks WK016406"),
    (lambda ds: ds.isel(time=slice(0, None, 4)).assign_attrs(resolution_min=60), "60-min steps and 'smoke' 15-min"),
    (lambda ds: ds.assign_attrs(status="partial"), "run 'other' is partial"),
], ids=["length", "wijken", "resolution", "partial"])
def test_misaligned_runs_are_refused_with_a_clear_message(smoke_run, smoke_ds, tmp_path, capsys, change, expected):
    other = change(smoke_ds).assign_attrs(scenario_name="other")
    other.to_netcdf(tmp_path / "other.nc")
    status = main(["compare", str(smoke_run), str(tmp_path / "other.nc")])  # in-process: no interpreter start-up
    out, err = capsys.readouterr()
    assert status == 2
    assert expected in err, err
    assert "Traceback" not in err + out and out == ""


def _skeleton(start: str, days: int) -> xr.Dataset:
    time = pd.date_range(start, periods=days * 96, freq="15min")
    return xr.Dataset(coords={"time": time, "wijk": ["WK016405"]}, attrs={"resolution_min": 15, "status": "complete"})


def test_a_leap_year_compares_with_a_common_year_but_not_with_a_shorter_horizon():
    check_comparable([_skeleton("2025-01-01", 365), _skeleton("2028-01-01", 366)], ["2025", "2028"])
    with pytest.raises(RunsNotComparable, match="same length"):
        check_comparable([_skeleton("2025-01-01", 365), _skeleton("2028-01-01", 364)], ["2025", "2028"])


def test_a_missing_run_folder_says_what_to_give(smoke_run, tmp_path, capsys):
    status = main(["compare", str(smoke_run), str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert status == 2 and "no results in" in err and "energy-sim run" in err

"""The real CLI on the smoke scenario: results, determinism, failure handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import energy_sim
from energy_sim.engine import RunError, run_scenario
from energy_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "scenarios" / "smoke.yaml"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energy_sim.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The smoke scenario run twice through the CLI, in two folders."""
    runs = []
    for name in ("first", "second"):
        folder = tmp_path_factory.mktemp(name)
        done = cli("run", str(SMOKE), "--output-dir", str(folder / "out"), "--quiet", cwd=folder)
        assert done.returncode == 0, done.stderr
        runs.append((folder / "out" / "smoke", done))
    return runs


def test_run_prints_the_summary_table(two_runs):
    _run_dir, done = two_runs[0]
    out = done.stdout
    assert "Berflo Es" in out and "peak trafo %" in out and "min V pu" in out
    assert "not simulated yet" in out  # never silent about what is missing
    assert "Traceback" not in out + done.stderr


def test_results_follow_the_schema(two_runs):
    ds = energy_sim.open_results(two_runs[0][0])
    assert ds.attrs["status"] == "complete"
    assert ds.attrs["scenario_name"] == "smoke"
    assert len(ds.attrs["scenario_hash"]) == 64
    # one week of quarter-hours, Europe/Amsterdam midnight = 23:00 UTC the day before
    assert ds.sizes["time"] == 7 * 96
    assert str(ds.time.values[0]).startswith("2025-01-05T23:00")
    for name, var in ds.data_vars.items():
        if not name.startswith("event_"):
            assert "units" in var.attrs and "long_name" in var.attrs, name
    # 350 homes at 175 per substation -> 2 MV/LV transformers, 630 kVA each
    mv_lv = ds.trafo_level == "mv/lv"
    assert int(mv_lv.sum()) == 2
    np.testing.assert_allclose(ds.trafo_sn_mva.where(mv_lv, drop=True), 0.63)
    assert int(ds.wijk_homes.sum()) == 350


def test_physics_of_the_smoke_week(two_runs):
    ds = energy_sim.open_results(two_runs[0][0])
    dt_h = 0.25
    household_mwh = float(ds.wijk_p_mw.sel(category="household").sum()) * dt_h
    # 350 homes x 2,900 kWh/yr spread over 8,766 h: 0.116 MW mean -> 19.5 MWh a week;
    # a January week of the E1A profile sits above the annual mean (winter
    # factor ~1.1-1.4), so 19-30 MWh
    assert 19.0 < household_mwh < 30.0
    # PV never consumes; it produces in daylight only
    pv = ds.wijk_p_mw.sel(category="rooftop_pv")
    assert float(pv.max()) <= 0.0
    night = ds.time.dt.hour.isin([22, 23, 0, 1, 2, 3])
    assert float(pv.where(night, drop=True).min()) == 0.0
    # loading and voltage in physical ranges for household load only
    assert 5.0 < float(ds.trafo_peak_loading_pct.sel(trafo=ds.trafo_level == "mv/lv").max()) < 100.0
    assert 0.9 < float(ds.bus_vm_min_pu.min()) <= float(ds.bus_vm_max_pu.max()) < 1.1


def test_same_file_and_seed_give_identical_results(two_runs):
    a = energy_sim.open_results(two_runs[0][0])
    b = energy_sim.open_results(two_runs[1][0])
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        assert a[name].values.tobytes() == b[name].values.tobytes(), name
    for name in a.coords:
        assert np.array_equal(a[name].values, b[name].values), name


def test_json_summary(tmp_path):
    done = cli("run", str(SMOKE), "--output-dir", str(tmp_path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    (wijk,) = summary["wijken"]
    assert wijk["code"] == "WK016405" and wijk["homes"] == 350
    # time per stage: laps of one clock, so the stages add up to the run's wall time
    stages = summary["stage_time_s"]
    assert {"grid build", "profiles", "events and congestion manager", "load flow + metrics", "results"} <= set(stages)
    assert sum(s["wall_s"] for s in stages.values()) == pytest.approx(summary["wall_time_s"], abs=0.05)
    assert all(s["wall_s"] >= 0 and s["cpu_s"] >= 0 for s in stages.values())


def test_invalid_scenario_is_not_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("dwellings: 350", "dwellings: -350").replace("name: smoke", "name: bad"))
    done = cli("run", str(bad), "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert "wijken[0].dwellings must be >= 1 (got -350)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # validated completely before anything ran


def test_a_failed_run_keeps_the_blocks_it_wrote(tmp_path, monkeypatch):
    scenario = load_scenario(SMOKE)
    import energy_sim.engine as engine

    real = engine.CitySolver.solve_block
    calls = {"n": 0}

    def fail_on_third_block(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("simulated failure in block 3")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(engine.CitySolver, "solve_block", fail_on_third_block)
    with pytest.raises(RunError) as caught:
        run_scenario(scenario, output_dir=tmp_path, progress=False)
    assert "blocks finished so far" in str(caught.value)
    partial = energy_sim.open_results(tmp_path / "smoke")
    assert partial.attrs["status"] == "partial"
    assert partial.sizes["time"] == 2 * 96  # the two finished days
    status = json.loads((tmp_path / "smoke" / "run.json").read_text())
    assert status["status"] == "failed" and "block 3" in status["error"]


def test_round_trip_of_the_results_file(two_runs, tmp_path):
    ds = energy_sim.open_results(two_runs[0][0])
    copy = tmp_path / "copy.nc"
    ds.to_netcdf(copy)
    again = energy_sim.open_results(copy)
    xr.testing.assert_identical(ds, again)


def test_the_reference_solver_on_a_long_horizon_is_refused_with_its_cost(tmp_path):
    # a year of the smoke wijk: 35,040 steps x (2 LV grids + the MV net) = 105,120 runpp calls > 100,000
    scenario = tmp_path / "refused.yaml"
    scenario.write_text(SMOKE.read_text().replace("name: smoke", "name: refused")
                        .replace("  source: generated", "  source: generated\n  solver: pandapower")
                        .replace("end: 2025-01-13", "end: 2026-01-06"))
    done = cli("run", str(scenario), "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert "35,040 steps x 3 nets = 105,120 pandapower.runpp calls" in done.stderr
    assert "Traceback" not in done.stderr


def test_csv_output_format_writes_the_exports(tmp_path):
    scenario = tmp_path / "csv.yaml"
    text = SMOKE.read_text().replace("name: smoke", "name: with-csv").replace(
        "end: 2025-01-13", "end: 2025-01-07")
    scenario.write_text(text + "outputs:\n  formats: [netcdf, csv]\n")
    done = cli("run", str(scenario), "--output-dir", str(tmp_path / "out"), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = (tmp_path / "out" / "with-csv" / "csv" / "wijk_summary.csv").read_text()
    assert "WK016405" in table

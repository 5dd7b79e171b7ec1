"""The HTML report: rendered by the CLI, opened in headless Chromium, looked at."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import sys

import matplotlib.image
import numpy as np
import pytest

from energy_sim.results.report import FIGURE_IDS, render_report

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energy_sim.cli", *args], capture_output=True, text=True, cwd=cwd)


def browse(chromium: Path, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    """Open `page` in a fresh headless Chromium profile."""
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def console_problems(stderr: str) -> list[str]:
    """Lines where the page wrote to the console or failed to load something."""
    return [line for line in stderr.splitlines()
            if ":CONSOLE" in line or "net::ERR_" in line or "Uncaught" in line or "Not allowed to load" in line]


@pytest.fixture(scope="module")
def report_file(smoke_run, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    done = cli("report", str(smoke_run), "-o", str(folder / "report.html"), "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report"] == str(folder / "report.html")
    return folder / "report.html"


def test_the_console_check_catches_a_broken_page(chromium, tmp_path):
    # negative control: the same check on a page with a script error must complain
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom'); notAFunction();</script></body></html>")
    done = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert any("notAFunction" in line for line in console_problems(done.stderr))


def test_report_opens_in_chromium_with_table_and_every_figure(chromium, report_file, smoke_ds, tmp_path):
    done = browse(chromium, report_file, tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_problems(done.stderr) == []
    dom = done.stdout
    assert "<title>Grid congestion — smoke</title>" in dom
    # the per-wijk table, with the wijk and its peak loading computed here from the Dataset
    table = re.search(r'<table id="wijk-table">.*?</table>', dom, re.S)
    assert table is not None
    mv_lv = smoke_ds.trafo_level.values == "mv/lv"
    peak = float(np.max(smoke_ds.trafo_peak_loading_pct.values[mv_lv]))
    assert "Berflo Es" in table.group(0) and f">{peak:.1f}<" in table.group(0)
    # results later issues add are shown as not simulated, never as numbers
    assert table.group(0).count("not simulated yet") == 3
    for fig_id in FIGURE_IDS:
        figure = re.search(rf'<figure id="{fig_id}">(.*?)</figure>', dom, re.S)
        assert figure is not None, f"figure {fig_id} missing"
        assert "<svg" in figure.group(1) and "<figcaption>" in figure.group(1), fig_id
    assert 'id="events-none"' in dom  # the smoke week never overloads (peak well below 100 %)


def test_report_is_self_contained(report_file):
    text = report_file.read_text(encoding="utf-8")
    # every src/href is inline data or an in-page reference: nothing to fetch, works offline
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', text)
    assert references, "expected the SVG figures to reference their own parts"
    assert [r for r in references if not (r.startswith("#") or r.startswith("data:"))] == []
    assert "<script" not in text and "<link" not in text
    # times are shown in the scenario's zone: the first step, 2025-01-05 23:00 UTC, is 6 January 00:00 there
    assert "06 Jan 2025 00:00 – 13 Jan 2025 00:00 Europe/Amsterdam" in text


def test_report_screenshot_shows_a_drawn_page(chromium, report_file, tmp_path):
    shot = tmp_path / "report.png"
    done = browse(chromium, report_file, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,3000",
                  "--hide-scrollbars")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1400)
    # not blank: the header band is dark green and the figures bring many colours
    assert pixels[20, 700, :3].mean() < 0.3
    rgb = (pixels[:, :, :3] * 255).astype(np.uint32)
    colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
    assert len(colours) > 500


def test_per_wijk_results_added_later_are_rendered_when_present(smoke_ds):
    ds = smoke_ds.assign(wijk_ev_undelivered_mwh=("wijk", [1.25],
                                                  {"units": "MWh", "long_name": "EV energy not delivered"}))
    html = render_report(ds)
    table = re.search(r'<table id="wijk-table">.*?</table>', html, re.S).group(0)
    assert "EV energy not delivered [MWh]" in table and ">1.25<" in table
    assert table.count("not simulated yet") == 2  # curtailment and interventions are still missing


def test_partial_run_is_flagged(smoke_ds):
    html = render_report(smoke_ds.isel(time=slice(0, 96)).assign_attrs(status="partial"))
    assert 'id="partial-banner"' in html and "96 steps" in html


def test_a_run_that_stopped_half_way_is_refused_with_what_to_do(smoke_ds, tmp_path, capsys):
    from energy_sim.cli import main

    # a run folder as a stopped run leaves it: one finished block (time series only), no results.nc
    (tmp_path / "stopped" / "blocks").mkdir(parents=True)
    series = smoke_ds[[n for n, v in smoke_ds.data_vars.items() if "time" in v.dims]].isel(time=slice(0, 96))
    series = series.drop_vars(["wijk_name", "wijk_lon_deg", "wijk_lat_deg", "wijk_homes"], errors="ignore")
    series.encoding = {}
    series.to_netcdf(tmp_path / "stopped" / "blocks" / "block-00000.nc")
    (tmp_path / "stopped" / "run.json").write_text('{"status": "failed", "scenario_name": "smoke"}')
    assert main(["report", str(tmp_path / "stopped"), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "stopped before its end" in err and "energy-sim run" in err
    assert not (tmp_path / "r.html").exists()
    assert main(["export", str(tmp_path / "stopped"), "--markdown", str(tmp_path / "m.md")]) == 2
    assert "stopped before its end" in capsys.readouterr().err

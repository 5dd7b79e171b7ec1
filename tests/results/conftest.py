"""Shared runs for the results tests: the smoke scenario (2025) and the same week in 2030.

Each is simulated once per test session (~20 s each on a loaded machine).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import energy_sim
from energy_sim.engine import run_scenario
from energy_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """Run folder of the smoke scenario: Berflo Es, 6–13 January 2025."""
    out = tmp_path_factory.mktemp("smoke-2025")
    return run_scenario(load_scenario(SMOKE), output_dir=out, progress=False).run_dir


@pytest.fixture(scope="session")
def smoke_ds(smoke_run):
    return energy_sim.open_results(smoke_run)


@pytest.fixture(scope="session")
def smoke_2030_run(tmp_path_factory) -> Path:
    """The smoke week moved to 7–14 January 2030 with heat pumps in 40 % of the homes."""
    text = SMOKE.read_text()
    edits = {"name: smoke\n": "name: smoke-2030\n", "start: 2025-01-06": "start: 2030-01-07",
             "end: 2025-01-13": "end: 2030-01-14", "pv_frac: 0.35": "pv_frac: 0.35\n      heat_pump_frac: 0.4"}
    for old, new in edits.items():
        assert text.count(old) == 1, f"scenarios/smoke.yaml changed; update this fixture's edit of {old!r}"
        text = text.replace(old, new)
    folder = tmp_path_factory.mktemp("smoke-2030")
    (folder / "smoke-2030.yaml").write_text(text)
    return run_scenario(load_scenario(folder / "smoke-2030.yaml"), output_dir=folder / "out", progress=False).run_dir


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The headless browser; `make test` installs it. Missing means the test fails, never skips."""
    found = CHROMIUM if CHROMIUM.is_file() else (Path(p) if (p := shutil.which("chromium")) else None)
    if found is None:
        pytest.fail("Chromium is not installed (looked for /usr/bin/chromium and `chromium` on PATH); run `make test`, "
                    "which installs it as root, or `apt-get install -y chromium`")
    return found


@pytest.fixture(scope="session")
def assets_run(tmp_path_factory) -> Path:
    """Two smoke days with a heat network, an LV and an MV battery and a planned transformer outage."""
    folder = tmp_path_factory.mktemp("smoke-assets")
    base = ROOT / "tests" / "scenarios" / "smoke-heat-battery.yaml"
    (folder / "smoke-assets.yaml").write_text(f"""\
extends: {base}
meta: {{name: smoke-assets}}
horizon: {{start: 2025-01-06, end: 2025-01-08}}
outages:
  planned:
    - {{name: onderhoud MSR01, kind: mv_lv_transformer, element: WK016405/MSR01,
       start: 2025-01-06 08:00, end: 2025-01-06 12:00}}
""")
    return run_scenario(load_scenario(folder / "smoke-assets.yaml"), output_dir=folder / "out", progress=False).run_dir


@pytest.fixture(scope="session")
def assets_ds(assets_run):
    return energy_sim.open_results(assets_run)

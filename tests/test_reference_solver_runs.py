"""A whole run with ``grid.solver: pandapower`` (runpp per step and net) equals the batched run.

The reference solver goes through the same engine path (profiles, hierarchy,
metrics, results) and swaps only the load flow of every LV grid and of the
MV network for ``pandapower.runpp``; the batched solver is validated against
runpp per grid (tests/grid), and this checks the whole city path end to end:
every result series within the tolerances of issue 3 (1e-6 p.u., 0.01
percentage points).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import energy_sim
from energy_sim.engine import run_scenario
from energy_sim.scenario import load_scenario

SMOKE = Path(__file__).resolve().parents[1] / "scenarios" / "smoke.yaml"


@pytest.fixture(scope="module")
def batched_and_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    day = SMOKE.read_text().replace("end: 2025-01-13", "end: 2025-01-07")  # one winter day, 96 steps
    texts = {"batched": day, "reference": day.replace("  source: generated", "  source: generated\n  solver: pandapower")}
    results = []
    for name, text in texts.items():
        (folder / f"{name}.yaml").write_text(text.replace("name: smoke", f"name: {name}"))
        run_scenario(load_scenario(folder / f"{name}.yaml"), output_dir=folder, progress=False)
        results.append(energy_sim.open_results(folder / name))
    return results


def test_loadings_and_voltages_equal_runpp_through_the_whole_run(batched_and_reference):
    batched, reference = batched_and_reference
    assert "pandapower.runpp per step and net" in reference.attrs["notes"]
    assert reference.sizes["time"] == 96 and reference.sizes["trafo"] == batched.sizes["trafo"]
    for name in ("trafo_loading_pct", "line_loading_pct", "wijk_trafo_loading_max_pct", "wijk_feeder_loading_max_pct"):
        np.testing.assert_allclose(batched[name].values, reference[name].values, rtol=0, atol=0.01, err_msg=name)
    for name in ("wijk_vm_min_pu", "wijk_vm_max_pu"):
        np.testing.assert_allclose(batched[name].values, reference[name].values, rtol=0, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(batched.bus_vm_min_pu.values, reference.bus_vm_min_pu.values, rtol=0, atol=1e-6)
    # the evening peak loads the transformers: a comparison at real loadings, not at zero
    assert float(reference.trafo_loading_pct.max()) > 20.0

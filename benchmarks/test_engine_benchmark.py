"""End-to-end slice: ``energy_sim.engine.run_scenario`` on scenarios/smoke.yaml.

One wijk (350 dwellings, 2 LV grids + the MV ring), one winter week (672
quarter-hours), seven day-blocks: scenario, grid build, profiles, batched
load flow, metrics and the results written to NetCDF, all in one number.

The events layer (EVs, public chargers, congestion manager) is benchmarked
in ``benchmarks/test_events_benchmark.py`` when that file exists; ``make
bench`` and ``make bench-check`` pick up every ``benchmarks/test_*_benchmark.py``.
"""

from __future__ import annotations

from pathlib import Path

from harness import measure
from energy_sim.engine import horizon_index, run_scenario
from energy_sim.scenario import load_scenario

SMOKE = Path(__file__).resolve().parent.parent / "scenarios" / "smoke.yaml"


def test_run_scenario_smoke(benchmark, tmp_path):
    scenario = load_scenario(SMOKE)
    steps = len(horizon_index(scenario))
    outcome = measure(benchmark, lambda: run_scenario(scenario, output_dir=tmp_path, progress=False),
                      steps=steps, stage="engine", rounds=2,
                      label="slice: smoke.yaml, 1 wijk of 350 dwellings, 1 week")
    assert outcome is not None

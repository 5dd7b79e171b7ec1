"""Run a scenario template twice, congestion manager off and on (shared by the engine tests; not a test module)."""

import textwrap

import energy_sim
from energy_sim.engine import run_scenario
from energy_sim.scenario import load_scenario


def twin_runs(tmp_path_factory, template: str, prefix: str) -> dict:
    """Results of `template` with its ``NAME``/``MANAGED`` placeholders filled, manager off (False) and on (True)."""
    folder = tmp_path_factory.mktemp(prefix)
    runs = {}
    for managed in (False, True):
        name = f"{prefix}-{'on' if managed else 'off'}"
        path = folder / f"{name}.yaml"
        path.write_text(textwrap.dedent(template).replace("NAME", name).replace("MANAGED", str(managed).lower()))
        run_scenario(load_scenario(path), output_dir=folder, progress=False)
        runs[managed] = energy_sim.open_results(folder / name)
    return runs

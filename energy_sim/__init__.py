"""energy_sim: a grid-aware energy-transition simulator.

Where, when and by how much does a city's electricity grid congest as it goes
through the energy transition, and what relieves it?  See DESIGN.md for the
pipeline: scenario -> profiles -> events -> grid -> results.
"""

import os
from importlib.metadata import PackageNotFoundError, version

# numba's OpenMP threads wait for work by spinning (GNU OpenMP's default). On a
# 2-core machine shared with other jobs the waiting thread then takes the core
# the working one needs: the city-year's household calls (once per wijk and
# block, a parallel region each) took 2x the CPU and ~2x the wall time of one
# thread. Passive waiting (sleep at the end of a region) costs ~1 % on an idle
# machine. Read when numba starts its threads (first parallel call), so setting
# it when the package is imported covers every run; set OMP_WAIT_POLICY
# yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("energy-sim")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"


def open_results(path):
    """Open a run's results (a run folder or its ``results.nc``) as an xarray Dataset."""
    from energy_sim.results.store import open_results as _open

    return _open(path)


__all__ = ["__version__", "open_results"]

"""energy_sim: a grid-aware energy-transition simulator.

Where, when and by how much does a city's electricity grid congest as it goes
through the energy transition, and what relieves it?  See DESIGN.md for the
pipeline: scenario -> profiles -> events -> grid -> results.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("energy-sim")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"



def open_results(path):
    """Open a run's results (a run folder or its ``results.nc``) as an xarray Dataset."""
    from energy_sim.results.store import open_results as _open

    return _open(path)


__all__ = ["__version__", "open_results"]

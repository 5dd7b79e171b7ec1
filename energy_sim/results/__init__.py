"""Results: the labelled Dataset of a run, written as it goes, and its summaries."""

from energy_sim.results.store import open_results

__all__ = ["open_results"]

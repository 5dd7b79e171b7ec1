"""Random outages of grid and generation assets, with repair times (simpy).

Each element runs one small process: up for an exponential time (constant
failure rate), then down for a lognormal repair time, then up again. The
result is a table of outage windows per element, which the engine turns into
availability per block with `availability`.

Default rates (`OutageModel` instances below) and their sources:

- MV/LV distribution transformer: failure rate 0.003 per transformer-year
  (ASSUMPTION in the range 0.002-0.005 /yr reported for Dutch distribution
  transformers in Netbeheer Nederland's yearly "Betrouwbaarheid van
  elektriciteitsnetten in Nederland" failure statistics); repair (replacement
  by a mobile unit) median 8 h, log sigma 0.6 (ASSUMPTION).
- Wind turbine: ~2 stops per turbine-year needing repair, median downtime 2 d,
  log sigma 1.0 (ASSUMPTION after the failure-rate and downtime survey of
  Pfaffel, Faulstich & Rohrig, "Performance and Reliability of Wind
  Turbines: A Review", Energies 10(11):1904, 2017: failure rates of
  roughly 0.5-3 /yr and downtimes of days per failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from energy_sim.events.sessions import HOUR_S

__all__ = ["OutageModel", "MV_LV_TRANSFORMER", "WIND_TURBINE", "simulate_outages", "availability"]

YEAR_S = 365.25 * 86_400.0


@dataclass(frozen=True)
class OutageModel:
    """Failure and repair of one kind of element.

    Attributes
    ----------
    failures_per_year : float
        Constant failure rate [1/yr].
    repair_median_h : float
        Median repair time [h].
    repair_sigma : float
        Log standard deviation of the lognormal repair time [-].
    """

    failures_per_year: float
    repair_median_h: float
    repair_sigma: float


MV_LV_TRANSFORMER = OutageModel(failures_per_year=0.003, repair_median_h=8.0, repair_sigma=0.6)
WIND_TURBINE = OutageModel(failures_per_year=2.0, repair_median_h=48.0, repair_sigma=1.0)


def element_life(env: simpy.Environment, element: str, model: OutageModel, rng: np.random.Generator,
                 windows: list[tuple[str, float, float]]):
    """One element: run until it fails, be repaired, repeat; append (element, start_s, end_s) per outage."""
    while True:
        yield env.timeout(rng.exponential(YEAR_S / model.failures_per_year))
        repair_s = model.repair_median_h * HOUR_S * np.exp(model.repair_sigma * rng.standard_normal())
        windows.append((element, env.now, env.now + repair_s))
        yield env.timeout(repair_s)


def simulate_outages(elements: Sequence[str], model: OutageModel, horizon_s: float,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Outage windows of every element over the horizon.

    Parameters
    ----------
    elements : sequence of str
        Element ids; each gets its own random stream spawned from ``rng`` in
        this order, so adding an element does not change the others.
    model : OutageModel
    horizon_s : float
        Length of the horizon [s].
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        Columns ``element``, ``start_s``, ``end_s`` (end may lie past the
        horizon: the repair is still under way), sorted by start.
    """
    env = simpy.Environment()
    windows: list[tuple[str, float, float]] = []
    streams = rng.spawn(len(elements))
    for element, stream in zip(elements, streams):
        env.process(element_life(env, element, model, stream, windows))
    env.run(until=horizon_s)
    frame = pd.DataFrame(windows, columns=["element", "start_s", "end_s"])
    return frame.sort_values(["start_s", "element"], ignore_index=True)


def availability(windows: pd.DataFrame, elements: Sequence[str], block_start_s: float, n_step: int,
                 dt_s: float) -> np.ndarray:
    """Available fraction of each step for each element [-], ``[n_step, n_element]`` (1 = in service)."""
    t0 = block_start_s + dt_s * np.arange(n_step)
    avail = np.ones((n_step, len(elements)))
    index = {e: j for j, e in enumerate(elements)}
    sel = windows[(windows.end_s > block_start_s) & (windows.start_s < block_start_s + n_step * dt_s)]
    for element, start_s, end_s in sel.itertuples(index=False):
        overlap_s = np.clip(np.minimum(t0 + dt_s, end_s) - np.maximum(t0, start_s), 0.0, dt_s)
        avail[:, index[element]] -= overlap_s / dt_s
    return np.clip(avail, 0.0, 1.0)

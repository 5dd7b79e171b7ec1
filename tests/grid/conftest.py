"""Shared fixtures for the grid tests: SimBench nets are slow to load (~5 s), so cache them."""

import copy

import numpy as np
import pytest
import simbench

#: SimBench LV grids used for validation (SimBench data set, Meinecke et al.,
#: Energies 13(12):3290, 2020), with their own 2016 quarter-hour profiles.
SIMBENCH_LV_CODES = ("1-LV-urban6--0-sw", "1-LV-rural1--0-sw", "1-LV-semiurb4--0-sw")

_CACHE: dict = {}


def _load(code):
    if code not in _CACHE:
        net = simbench.get_simbench_net(code)
        prof = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
        _CACHE[code] = (
            net,
            {
                "load_p_mw": prof[("load", "p_mw")].to_numpy(),
                "load_q_mvar": prof[("load", "q_mvar")].to_numpy(),
                "sgen_p_mw": prof[("sgen", "p_mw")].to_numpy(),
            },
        )
    return _CACHE[code]


@pytest.fixture(scope="session")
def simbench_grid():
    """Return a function ``code -> (net copy, profiles dict)``; each net is loaded once per session."""

    def get(code):
        net, prof = _load(code)
        return copy.deepcopy(net), prof

    return get



"""Which catalogue names a scenario may refer to.

The equipment catalogue is data in models/ (shipped as `energy_sim.models`);
each stage reads its own files (`profiles.wind.load_turbine_catalogue`,
`profiles.heat.heat_pumps`, ...).  Validation asks those same readers, so a
name is valid exactly when the stage that uses it can find it.  Cable and
transformer types are pandapower standard types (models/grid_types.yaml
documents the ones the generated grids use).
"""

from __future__ import annotations

import functools


@functools.cache
def catalogue_names() -> dict[str, frozenset[str]]:
    """Every name a scenario may refer to, by kind (the validation context)."""
    import pandapower as pp

    from energy_sim.profiles.heat import building_archetypes, heat_pumps
    from energy_sim.profiles.wind import load_turbine_catalogue

    net = pp.create_empty_network()
    return {
        "wind_turbines": frozenset(load_turbine_catalogue()),
        "building_archetypes": frozenset(building_archetypes()),
        "heat_pumps": frozenset(heat_pumps()),
        "line_types": frozenset(pp.available_std_types(net, "line").index),
        "trafo_types": frozenset(pp.available_std_types(net, "trafo").index),
    }

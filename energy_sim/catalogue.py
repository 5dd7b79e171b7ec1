"""The equipment catalogue: data files in models/, shipped as `energy_sim.models`.

Scenarios refer to catalogue entries by name (a turbine type, a building
archetype, a cable type).  This module reads the files and answers which
names exist; the profile and grid stages read the entries they need.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

#: Sections of a catalogue file that describe the file, not entries.
_NOT_ENTRIES = {"meta", "sources", "source", "notes", "description", "schema_version", "defaults"}


@functools.cache
def read_catalogue_file(file_name: str) -> Any:
    """Parsed content of ``models/<file_name>`` (empty mapping if absent)."""
    node = resources.files("energy_sim.models") / file_name
    if not node.is_file():
        return {}
    return YAML(typ="safe", pure=True).load(node.read_text(encoding="utf-8")) or {}


def entry_names(document: Any) -> set[str]:
    """Names of the entries in a catalogue document.

    Entries are either a list of mappings with a ``name`` key or a mapping
    from name to a mapping, at the top level or one level down (e.g. under
    ``turbines:``).
    """
    names: set[str] = set()
    if isinstance(document, list):
        names |= {str(e["name"]) for e in document if isinstance(e, dict) and "name" in e}
    elif isinstance(document, dict):
        for key, value in document.items():
            if key in _NOT_ENTRIES:
                continue
            if isinstance(value, list):
                names |= entry_names(value)
            elif isinstance(value, dict):
                if "name" in value:
                    names.add(str(value["name"]))
                elif all(isinstance(v, dict) for v in value.values()) and value:
                    nested = entry_names(value)
                    names |= nested if nested and not _is_entry_map(value) else {str(k) for k in value}
                else:
                    names.add(str(key))
    return names


def _is_entry_map(value: dict) -> bool:
    """True when a mapping's values look like entries (scalars inside), not sections."""
    return all(any(not isinstance(x, (dict, list)) for x in v.values()) for v in value.values())


@functools.cache
def pandapower_std_type_names() -> dict[str, frozenset[str]]:
    """Standard line and transformer type names known to pandapower."""
    import pandapower as pp

    net = pp.create_empty_network()
    return {
        "line_types": frozenset(pp.available_std_types(net, "line").index),
        "trafo_types": frozenset(pp.available_std_types(net, "trafo").index),
    }


@functools.cache
def catalogue_names() -> dict[str, frozenset[str]]:
    """Every name a scenario may refer to, by kind (the validation context)."""
    grid_types = read_catalogue_file("grid_types.yaml")
    std = pandapower_std_type_names()
    extra_lines = entry_names(grid_types.get("line_types", grid_types.get("lines", {}))) if isinstance(grid_types, dict) else set()
    extra_trafos = entry_names(grid_types.get("trafo_types", grid_types.get("trafos", {}))) if isinstance(grid_types, dict) else set()
    return {
        "wind_turbines": frozenset(entry_names(read_catalogue_file("wind_turbines.yaml"))),
        "building_archetypes": frozenset(entry_names(read_catalogue_file("building_archetypes.yaml"))),
        "heat_pumps": frozenset(entry_names(read_catalogue_file("heat_pumps.yaml"))),
        "line_types": std["line_types"] | extra_lines,
        "trafo_types": std["trafo_types"] | extra_trafos,
    }

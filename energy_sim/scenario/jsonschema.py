"""JSON Schema of scenario files, for partners' editors (e.g. the YAML language server)."""

from __future__ import annotations

from typing import Any

from energy_sim.scenario.schema import SCHEMA_VERSION, Scenario


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that a scenario file satisfies.

    The file may also carry ``extends`` (a path to the scenario it builds on);
    a file that extends another may leave out sections the base provides, so
    editors see ``required`` only as guidance.
    """
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"energy_sim scenario, format version {SCHEMA_VERSION}"
    schema["properties"] = {
        "extends": {
            "type": "string",
            "description": "Path of the scenario file this one builds on, relative to this file. "
            "Mappings merge key by key; lists of named items merge by name (code for wijken); "
            "an item with 'remove: true' drops the base item of that name.",
        },
        **schema["properties"],
    }
    return schema

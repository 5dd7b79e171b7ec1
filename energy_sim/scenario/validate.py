"""Validate a scenario file completely, reporting every problem at once.

The order of work: read the file and everything it `extends` (syntax
problems), check it against the schema with the catalogue and the file's own
wijk codes as context (types, ranges, unknown keys, references), then the
checks that need the whole file (duplicate names, files that must exist).
Nothing is run and nothing from the file is executed.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from energy_sim.catalogue import catalogue_names
from energy_sim.scenario.problems import NO_VALUE, Problem, ScenarioError
from energy_sim.scenario.schema import Scenario
from energy_sim.scenario.source import Located, PathKey, display_name, format_path, load_located

#: Keys whose value is a file path, relative to the file that wrote it.
FILE_KEYS: tuple[PathKey, ...] = (("weather", "path"), ("grid", "path"))
NAMED_ASSET_LISTS = ("solar_fields", "wind_turbines", "heat_networks", "ev_chargers", "batteries")


def validate_file(path: str | Path) -> tuple[Scenario | None, list[Problem]]:
    """Check one scenario file (and what it extends).

    Returns
    -------
    scenario : Scenario or None
        The validated scenario, or None when there is any problem.
    problems : list of Problem
        Every problem found, in file and line order; empty when valid.
    """
    path = Path(path)
    problems: list[Problem] = []
    located = load_located(path, problems)
    if located is None:
        return None, problems
    shown = display_name(path)
    _resolve_file_keys(located, problems)
    problems.extend(_duplicate_names(located, shown))
    problems.extend(_given_grid_problems(located, shown, {p.path for p in problems}))
    scenario = None
    try:
        scenario = Scenario.model_validate(located.data, context=_context(located.data))
    except ValidationError as exc:
        problems.extend(_from_pydantic(error, located, shown) for error in exc.errors())
    problems.sort(key=lambda p: (p.file, p.line or 0, p.path))
    return (scenario if not problems else None), problems


def load_scenario(path: str | Path) -> Scenario:
    """The validated scenario in `path`; raises `ScenarioError` listing every problem."""
    scenario, problems = validate_file(path)
    if problems:
        raise ScenarioError(problems)
    assert scenario is not None
    return scenario


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario's content.

    File paths are replaced by the SHA-256 of the files' bytes, so moving a
    scenario and its weather file elsewhere keeps the hash, and editing the
    weather file changes it.
    """
    data = scenario.model_dump(mode="json")
    for key_path in _file_key_paths(data):
        section = _at(data, key_path[:-1])
        value = section.get(key_path[-1]) if isinstance(section, dict) else None
        if value:
            section[key_path[-1]] = "sha256:" + hashlib.sha256(Path(value).read_bytes()).hexdigest()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------


def _context(data: Any) -> dict[str, Any]:
    wijken = data.get("wijken") if isinstance(data, dict) else None
    codes = {w["code"] for w in wijken or [] if isinstance(w, dict) and isinstance(w.get("code"), str)}
    assets = data.get("assets") if isinstance(data, dict) else None
    horizon = data.get("horizon") if isinstance(data, dict) else None
    zone = horizon.get("timezone") if isinstance(horizon, dict) else None
    catalogue = catalogue_names()
    centres = [(w["lon_deg"], w["lat_deg"]) for w in wijken or [] if isinstance(w, dict)
               and all(isinstance(w.get(k), (int, float)) and not isinstance(w.get(k), bool) for k in ("lon_deg", "lat_deg"))]
    return {
        **catalogue,
        "wijk_codes": codes,
        "wijk_centres": centres,
        **_substation_names(data, catalogue),
        "wind_turbine_names": _asset_names(assets, "wind_turbines"),
        "solar_field_names": _asset_names(assets, "solar_fields"),
        "timezone": zone if isinstance(zone, str) and _known_zone(zone) else None,
    }


def _asset_names(assets: Any, list_name: str) -> set[str]:
    items = assets.get(list_name) if isinstance(assets, dict) else None
    return {a["name"] for a in items if isinstance(a, dict) and isinstance(a.get("name"), str)} \
        if isinstance(items, list) else set()


def _known_zone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _substation_names(data: Any, catalogue: dict[str, Any]) -> dict[str, Any]:
    """The MV/LV substation ids the generated grid will have, for references in ``outages``.

    Wijk ``c`` gets substations ``c/MSR01`` .. ``c/MSRnn`` with ``nn`` =
    `energy_sim.grid.build.n_substations` of its dwellings under the sizing
    rules of the ``grid`` section (the engine builds exactly these; it checks
    again after building). Where the inputs are themselves invalid, the
    references are not checked (``substations`` is None): the other problems
    are reported instead.
    """
    from energy_sim.engine import lv_grid_parameters
    from energy_sim.grid.build import n_substations
    from energy_sim.scenario.schema import Grid, Wijk

    if not isinstance(data, dict) or not isinstance(data.get("wijken"), list):
        return {"substations": None}
    try:
        params = lv_grid_parameters(Grid.model_validate(data.get("grid") or {}, context=catalogue))
    except (ValidationError, ValueError):
        return {"substations": None}
    names: set[str] = set()
    hints: dict[str, str] = {}
    city = None
    grid_data = data.get("grid")
    if isinstance(grid_data, dict) and grid_data.get("source") in ("pandapower_json", "simbench"):
        try:
            city = _given_city(grid_data)
        except ValueError:  # reported by _given_grid_problems
            return {"substations": None}
    for raw in data["wijken"]:
        try:
            wijk = Wijk.model_validate(raw, context=catalogue)
        except ValidationError:
            return {"substations": None}
        if not wijk.simulate:
            hints[wijk.code] = f"wijk {wijk.code} has simulate: false, so its grid is not built"
            continue
        if wijk.grid is not None or city is not None:
            try:
                given = city.parts_of(wijk.code, len(_simulated_codes(data))) if city is not None else \
                    _given_net(wijk.grid.model_dump(mode="json"))
            except ValueError:  # reported by _given_grid_problems
                return {"substations": None}
            from energy_sim.grid.given import substation_ids

            ids = substation_ids(given, wijk.code)
            names.update(ids)
            hints[wijk.code] = (f"wijk {wijk.code} has a given grid ({given.source}) with substation(s) "
                                f"{', '.join(repr(i) for i in ids[:4])}{' ...' if len(ids) > 4 else ''}")
            continue
        n = n_substations(wijk.dwellings, params)
        ids = [f"{wijk.code}/MSR{i + 1:02d}" for i in range(n)]
        names.update(ids)
        hints[wijk.code] = (f"wijk {wijk.code} gets {n} substation(s), {ids[0]} to {ids[-1]} "
                            f"({wijk.dwellings} dwellings, grid.homes_per_trafo {params.homes_per_trafo_target:g})")
    return {"substations": names, "substation_hints": hints}


def _at(data: Any, path: PathKey) -> Any:
    """The value at `path` in plain data, or None."""
    for part in path:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data


def _file_key_paths(data: Any) -> list[PathKey]:
    """`FILE_KEYS` and every ``wijken[i].grid.path`` of a scenario."""
    wijken = data.get("wijken") if isinstance(data, dict) else None
    return list(FILE_KEYS) + [("wijken", i, "grid", "path") for i in range(len(wijken))] \
        if isinstance(wijken, list) else list(FILE_KEYS)


def _resolve_file_keys(located: Located, problems: list[Problem]) -> None:
    """Make file paths absolute relative to the file that wrote them; report missing files."""
    data = located.data
    for key_path in _file_key_paths(data):
        section = _at(data, key_path[:-1])
        if not isinstance(section, dict) or not isinstance(section.get(key_path[-1]), str):
            continue
        written = section[key_path[-1]]
        file, line = located.locate(key_path, "")
        folder = Path(file).parent.resolve()
        target = (folder / written).resolve()
        if key_path[-2] == "grid" and (Path(written).is_absolute() or not target.is_relative_to(folder)):
            # a given grid is an untrusted partner file: it may only name files next to the scenario
            problems.append(
                Problem(file, line, format_path(key_path), "outside_scenario_folder",
                        f"must name a file inside the scenario's folder {display_name(folder)} (no absolute "
                        f"path, no '..' or symbolic link leading out of it; got {display_name(target)}); copy "
                        f"the grid file next to the scenario", written)
            )
        elif not target.is_file():
            problems.append(
                Problem(file, line, format_path(key_path), "missing_file",
                        f"file not found (looked for {display_name(target)})", written)
            )
        section[key_path[-1]] = str(target)


def _given_grid_sections(data: Any) -> list[tuple[PathKey, dict, Any]]:
    """(path, grid section, the wijk's dwellings or None) of every grid section naming a given net."""
    found = []
    grid = data.get("grid") if isinstance(data, dict) else None
    if isinstance(grid, dict):
        found.append((("grid",), grid, None))
    wijken = data.get("wijken") if isinstance(data, dict) else None
    for i, wijk in enumerate(wijken if isinstance(wijken, list) else []):
        if isinstance(wijk, dict) and isinstance(wijk.get("grid"), dict):
            found.append((("wijken", i, "grid"), wijk["grid"], wijk.get("dwellings")))
    return [(p, g, d) for p, g, d in found if g.get("source") in ("pandapower_json", "simbench")]


def _given_net(grid: dict):
    """The split given net of a grid section (`energy_sim.grid.given.load_given_net`); may raise GivenGridError."""
    from energy_sim.grid.given import load_given_net

    return load_given_net(grid["source"], path=grid.get("path"), simbench_code=grid.get("simbench_code"))


def _simulated_codes(data: Any) -> list[str]:
    wijken = data.get("wijken") if isinstance(data, dict) else None
    return [w["code"] for w in wijken if isinstance(w, dict) and isinstance(w.get("code"), str)
            and w.get("simulate", True) is not False] if isinstance(wijken, list) else []


def _given_city(grid: dict):
    """The split whole-city net of the top-level grid section; may raise GivenGridError."""
    from energy_sim.grid.given_mv import load_given_city

    return load_given_city(grid["source"], path=grid.get("path"), simbench_code=grid.get("simbench_code"))


def _given_grid_problems(located: Located, shown: str, reported: set[str]) -> list[Problem]:
    """Read every given grid (safely) and report what makes it unusable, and wijken with too few dwellings.

    Sections whose path or code is missing or already reported (a missing
    file) are left to the schema and the file check.
    """
    from energy_sim.grid.given import GivenGridError

    from energy_sim.grid.given_mv import zone_problems

    found: list[Problem] = []
    data = located.data
    codes = _simulated_codes(data)
    sections = _given_grid_sections(data)
    city_given = any(here == ("grid",) for here, _grid, _dwellings in sections)
    for here, grid, dwellings in sections:
        if city_given and here != ("grid",):
            continue  # a wijk's own grid next to a whole-city net is only 'not_applicable' (below); not read
        key = "path" if grid["source"] == "pandapower_json" else "simbench_code"
        value = grid.get(key)
        if not isinstance(value, str) or not value or format_path((*here, key)) in reported:
            continue
        file, line = located.locate((*here, key), shown)
        shown_value = display_name(Path(value)) if key == "path" else value
        whole_city = here == ("grid",)
        try:
            given = _given_city(grid) if whole_city else _given_net(grid)
        except GivenGridError as exc:
            found.append(Problem(file, line, format_path((*here, key)), exc.rule, exc.message,
                                 shown_value if exc.value is None else exc.value))
            continue
        if not whole_city:
            found += _too_few_dwellings(located, shown, here[:-1], dwellings, given)
            continue
        reason = zone_problems(given, codes)
        if reason:
            found.append(Problem(file, line, format_path((*here, key)), "zone_mismatch", reason, shown_value))
            continue
        wijken = data.get("wijken") if isinstance(data, dict) else []
        for i, wijk in enumerate(wijken if isinstance(wijken, list) else []):
            if not isinstance(wijk, dict) or wijk.get("code") not in codes:
                continue
            if isinstance(wijk.get("grid"), dict):
                where = ("wijken", i, "grid")
                file, line = located.locate(where, shown)
                found.append(Problem(file, line, format_path(where), "not_applicable",
                                     f"cannot be set when grid.source is {grid['source']!r} (the whole city's net "
                                     f"gives every wijk its LV grids); remove it or set grid.source to 'generated'"))
                continue
            found += _too_few_dwellings(located, shown, ("wijken", i), wijk.get("dwellings"),
                                        given.parts_of(wijk["code"], len(codes)))
    return found


def _too_few_dwellings(located: Located, shown: str, wijk_path: PathKey, dwellings: Any, given) -> list[Problem]:
    if not (isinstance(dwellings, int) and not isinstance(dwellings, bool) and 0 < dwellings < given.n_points):
        return []
    where = (*wijk_path, "dwellings")
    file, line = located.locate(where, shown)
    return [Problem(file, line, format_path(where), "fewer_dwellings_than_connection_points",
                    f"must be at least the {given.n_points} connection points (loads) of its given LV grids "
                    f"({given.source}): each point gets at least one dwelling", dwellings)]


def _duplicate_names(located: Located, shown: str) -> list[Problem]:
    found: list[Problem] = []
    data = located.data if isinstance(located.data, dict) else {}

    def check(items: Any, list_path: PathKey, key: str, seen: dict[str, PathKey]) -> None:
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict) or not isinstance(item.get(key), str):
                continue
            here = (*list_path, i, key)
            if item[key] in seen:
                file, line = located.locate(here, shown)
                found.append(
                    Problem(file, line, format_path(here), "duplicate_name",
                            f"is used twice (first at {format_path(seen[item[key]])}); names must be unique",
                            item[key])
                )
            else:
                seen[item[key]] = here

    check(data.get("wijken"), ("wijken",), "code", {})
    grid = data.get("grid")
    if isinstance(grid, dict):
        check(grid.get("stations"), ("grid", "stations"), "name", {})
    assets = data.get("assets")
    if isinstance(assets, dict):
        seen: dict[str, PathKey] = {}
        for list_name in NAMED_ASSET_LISTS:
            check(assets.get(list_name), ("assets", list_name), "name", seen)
    return found


# --------------------------------------------------------------------------
# pydantic errors -> problems

_RULE_NAMES = {
    "missing": "required",
    "extra_forbidden": "unknown_key",
    "int_parsing": "type",
    "int_type": "type",
    "int_from_float": "type",
    "float_parsing": "type",
    "float_type": "type",
    "string_type": "type",
    "bool_parsing": "type",
    "bool_type": "type",
    "list_type": "type",
    "dict_type": "type",
    "model_type": "type",
    "model_attributes_type": "type",
    "tuple_type": "type",
    "datetime_type": "type",
    "datetime_parsing": "type",
    "datetime_from_date_parsing": "type",
    "date_type": "type",
    "date_parsing": "type",
    "date_from_datetime_parsing": "type",
    "date_from_datetime_inexact": "type",
    "literal_error": "one_of",
    "enum": "one_of",
    "string_pattern_mismatch": "pattern",
}


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "missing":
        return "is required"
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind == "string_type":
        return "must be text"
    if kind == "list_type":
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping of keys to values"
    if kind.startswith(("datetime_", "date_")):
        return "must be a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM[+01:00])"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx['pattern']}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} item(s)"
    if kind == "string_too_short":
        return f"must be at least {ctx['min_length']} character(s) long"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters long"
    text = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return text[:1].lower() + text[1:]


def _from_pydantic(error: dict[str, Any], located: Located, shown: str) -> Problem:
    loc: PathKey = tuple(error["loc"])
    file, line = located.locate(loc, shown)
    kind = error["type"]
    message = _message(error)
    value = error.get("input", NO_VALUE)
    if kind == "missing":
        value = NO_VALUE
    elif kind == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        message = "is not a known key" + (
            f"; did you mean {close[0]!r}?" if close else (f"; known keys: {', '.join(known)}" if known else "")
        )
        value = NO_VALUE
    elif isinstance(value, (dict, list)):
        value = NO_VALUE
    return Problem(file, line, format_path(loc), _RULE_NAMES.get(kind, kind), message, value)


def _known_keys(loc: PathKey) -> list[str]:
    """Field names of the model at `loc` in the Scenario schema (for suggestions)."""
    annotation: Any = Scenario
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[part].annotation
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the model or list type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            non_none = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = non_none[0] if len(non_none) == 1 else annotation
            if len(non_none) != 1:
                return annotation
        else:
            return annotation

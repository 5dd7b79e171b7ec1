"""Reading untrusted pandapower JSON files without letting them choose what gets imported.

``pandapower.from_json`` builds the objects a file names in
``"_module"``/``"_class"`` pairs: it imports the named module
(``importlib.import_module``, before any of pandapower's own checks, so a
hostile file can run the top-level code of any installed module) and can
hand back functions (``_class: "function"``) and ``JSONSerializableClass``
subclasses from any module. Scenario files and the files they name are
exchanged between partners and are untrusted (DESIGN.md decision 7).

`check_json_classes` therefore checks the file, fail-closed, *before*
pandapower sees it:

* every ``_module``/``_class`` pair is in `ALLOWED_CLASSES`;
* pandapower parses text of its own in exactly one place, the ``_object``
  string of a ``DataFrame``/``Series`` (``pandas.read_json``, which is more
  lenient than ``json.loads`` and takes every other key of the dict as a
  keyword argument, e.g. ``lines=True``, and reads ``_object`` from disk when
  it is an absolute path ending in ``.json``). That string must parse with
  ``json.loads(strict=True)`` *and* with pandas' own parser to a JSON object
  or array, both results are checked, and only the keys
  ``pandapower.to_json`` writes are allowed next to it (`FRAME_KEYS`,
  `SERIES_KEYS`);
* a ``pandapowerNet`` must hold its tables as an object (the old form with a
  nested JSON string is decoded by a second reader and is refused);
* any string that mentions ``_module`` or ``_class`` and does not parse as
  JSON is refused (it cannot be checked).

Why not build the tables here instead of calling pandapower's decoder:
pandapower's reader also restores dtypes, decodes GeoJSON columns and
converts older file formats (``convert_format``); re-implementing that would
make the load flow of a given net depend on a second, less tested reader
(tests/grid/test_given.py compares it with ``pandapower.runpp`` on the
original). The checks above constrain everything the decoder acts on: it
imports only for ``_module``/``_class`` dicts, which are all checked in the
form pandas will see them, and every keyword it passes on is one of a
fixed, typed set.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["ALLOWED_CLASSES", "FRAME_KEYS", "MAX_JSON_BYTES", "SERIES_KEYS", "GivenGridError", "check_json_classes",
           "read_pandapower_json"]

#: Largest pandapower JSON file read [bytes]; a whole city's LV and MV nets are ~100 MB.
MAX_JSON_BYTES = 500_000_000

#: The (module, class) pairs a pandapower JSON file may name: what ``pandapower.to_json`` writes for a
#: net with its tables and geodata. Modules ending in ``.*`` allow their sub-modules.
ALLOWED_CLASSES: dict[str, frozenset[str]] = {
    "pandapower.auxiliary": frozenset({"pandapowerNet"}),
    "pandapower": frozenset({"pandapowerNet"}),
    "pandas.core.frame": frozenset({"DataFrame"}),
    "pandas.core.series": frozenset({"Series"}),
    "pandas.core.indexes.*": frozenset({"Index", "RangeIndex", "MultiIndex", "Int64Index", "Float64Index",
                                        "DatetimeIndex", "CategoricalIndex"}),
    "pandas": frozenset({"DataFrame", "Series", "Index", "RangeIndex", "MultiIndex"}),
    "numpy": frozenset({"array", "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                        "uint64", "float16", "float32", "float64", "complex64", "complex128", "str_"}),
    "builtins": frozenset({"complex", "tuple", "set", "frozenset"}),
    "shapely.geometry.*": frozenset({"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString",
                                     "MultiPolygon"}),
    "geojson.*": frozenset({"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
                            "Feature", "FeatureCollection"}),
}

#: Keys ``pandapower.io_utils.json_dataframe`` (pandapower 3.x) writes next to a DataFrame's ``_object``;
#: pandapower passes the ones it does not pop itself to ``pandas.read_json``.
FRAME_KEYS = frozenset({"orient", "dtype", "index_name", "index_names", "column_name", "column_names",
                        "is_multiindex", "is_multicolumn"})
#: The same for a Series (``json_series``).
SERIES_KEYS = frozenset({"orient", "dtype", "typ", "index_name", "index_names", "is_multiindex"})
#: ... and for numpy, builtins and pandas Index values (``with_signature``).
VALUE_KEYS = frozenset({"dtype"})
#: The orients ``pandapower.to_json`` writes.
ORIENTS = frozenset({"split", "columns", "index"})


class GivenGridError(ValueError):
    """A given grid that cannot be used, with the rule it breaks and the offending value."""

    def __init__(self, rule: str, message: str, value: Any = None):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.value = value


def _allowed(module: Any, cls: Any) -> bool:
    if not isinstance(module, str) or not isinstance(cls, str):
        return False
    for pattern, classes in ALLOWED_CLASSES.items():
        if pattern.endswith(".*"):
            base = pattern[:-2]
            matches = module == base or (module.startswith(base + ".") and
                                         re.fullmatch(r"[A-Za-z0-9_.]+", module) is not None)
        else:
            matches = module == pattern
        if matches and cls in classes:
            return True
    return False


def _is_name(value: Any) -> bool:
    return value is None or isinstance(value, (str, int)) and not isinstance(value, bool)


def _key_problem(key: str, value: Any) -> bool:
    """True when `value` is not what ``pandapower.to_json`` writes for `key`."""
    if key == "orient":
        return value not in ORIENTS
    if key == "typ":
        return value != "series"
    if key == "dtype":
        return not (isinstance(value, str) or isinstance(value, dict) and
                    all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()))
    if key in ("is_multiindex", "is_multicolumn"):
        return not isinstance(value, bool)
    if key in ("index_name", "column_name"):
        return not _is_name(value)
    if key in ("index_names", "column_names"):
        return not (isinstance(value, list) and all(_is_name(v) for v in value))
    return True


def check_json_classes(text: str, source: str) -> None:
    """Raise `GivenGridError` unless `text` passes every check in the module docstring.

    Rules: ``invalid_json`` (the file itself), ``disallowed_object`` (a
    ``_module``/``_class`` pair outside `ALLOWED_CLASSES`), ``unsafe_object``
    (a pair allowed by name but written in a form pandapower's decoder would
    treat differently from this check).
    """
    from pandas._libs.json import ujson_loads  # the parser pandas.read_json uses

    def unsafe(what: str, value: Any) -> GivenGridError:
        shown = value if isinstance(value, (str, int, float, bool)) or value is None else type(value).__name__
        shown = shown[:80] if isinstance(shown, str) else shown
        return GivenGridError("unsafe_object", f"{source}: {what}, which pandapower.to_json does not write and "
                              f"pandapower's reader would act on unchecked; write the net with "
                              f"pandapower.to_json(net, path)", shown)

    def parse_nested(s: str, where: str) -> list[Any]:
        """Both parses of a table's JSON string (stdlib strict and pandas'); refused unless both succeed."""
        try:
            strict = json.loads(s)
            lenient = ujson_loads(s, precise_float=True)
        except (ValueError, RecursionError, OverflowError):
            raise unsafe(f"the {where} is a string that is not strict JSON", s) from None
        if not isinstance(strict, (dict, list)) or not isinstance(lenient, (dict, list)):
            raise unsafe(f"the {where} is JSON but not an object or array", s)
        return [strict, lenient]

    stack: list[Any] = []
    try:
        stack.append(json.loads(text))
    except (ValueError, RecursionError) as exc:
        raise GivenGridError("invalid_json", f"{source} is not valid JSON ({str(exc)[:200]})", None) from None
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "_module" in item or "_class" in item:
                module, cls = item.get("_module"), item.get("_class")
                if not _allowed(module, cls):
                    raise GivenGridError(
                        "disallowed_object",
                        f"{source} names {module}.{cls} (\"_module\"/\"_class\"); pandapower would import and "
                        f"build it, which can run code, so only pandapower nets with pandas, numpy, shapely and "
                        f"geojson objects are read (no controllers or functions)",
                        f"{module}.{cls}")
                name = f"{module}.{cls}"
                extra = {k: v for k, v in item.items() if k not in ("_module", "_class", "_object")}
                obj = item.get("_object")
                if cls == "pandapowerNet":
                    allowed_keys = frozenset()
                    if not isinstance(obj, dict):
                        raise unsafe(f"the {name} \"_object\" is not a JSON object", obj)
                    stack.append(obj)
                elif cls in ("DataFrame", "Series"):
                    allowed_keys = FRAME_KEYS if cls == "DataFrame" else SERIES_KEYS
                    if not isinstance(obj, str):
                        raise unsafe(f"a {name} \"_object\" is not a JSON string", obj)
                    stack.extend(parse_nested(obj, f"{name} \"_object\""))
                else:
                    allowed_keys = VALUE_KEYS
                    stack.append(obj)
                for key, value in extra.items():
                    if key not in allowed_keys:
                        raise unsafe(f"a {name} has the key {key!r} (pandapower passes it to the reader)", key)
                    if _key_problem(key, value):
                        raise unsafe(f"a {name} has {key!r} = {str(value)[:40]}", str(value))
                continue
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            looks_like_json = item.lstrip()[:1] in ("{", "[")
            mentions = "_module" in item or "_class" in item
            if not (looks_like_json or mentions):
                continue
            try:
                stack.append(json.loads(item))  # escapes (\\u005f) included
            except (ValueError, RecursionError):
                if mentions:
                    raise unsafe("a string mentions \"_module\"/\"_class\" but is not JSON, so it cannot be "
                                 "checked", item) from None
                # a string that only looks like JSON is data; pandapower does not decode it either


def read_pandapower_json(path: str | Path):
    """Read a pandapower JSON file after `check_json_classes`.

    Raises
    ------
    GivenGridError
        Unreadable, too large, not JSON, naming a disallowed class or an
        unsafe form, or not a pandapower net.
    """
    import pandapower as pp

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise GivenGridError("file_too_large", f"{path.name} has {size:,} bytes; at most {MAX_JSON_BYTES:,} are "
                                 f"read", size)
        text = path.read_text(encoding="utf-8")
    except GivenGridError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise GivenGridError("unreadable_file", f"cannot read {path.name} ({type(exc).__name__}: {exc})",
                             str(path)) from None
    check_json_classes(text, path.name)
    try:
        net = pp.from_json_string(text, convert=True)
    except Exception as exc:  # noqa: BLE001 - any failure of the reader is a bad file, reported with its reason
        raise GivenGridError("invalid_pandapower_json",
                             f"{path.name} is not a pandapower net pandapower can read ({type(exc).__name__}: "
                             f"{str(exc)[:200]})", None) from None
    if not isinstance(net, pp.pandapowerNet):
        raise GivenGridError("invalid_pandapower_json", f"{path.name} holds a {type(net).__name__}, not a pandapower "
                             f"net (write it with pandapower.to_json(net, path))", None)
    return net

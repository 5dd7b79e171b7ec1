"""Read scenario YAML with the location of every value, and resolve `extends`.

A scenario file may say ``extends: base.yaml`` (a path relative to itself) and
override any part of the file it extends.  Mappings merge key by key; lists of
named things (items with a ``name`` key, or ``code`` for wijken) merge by that
name, so a partner can change one charger park without repeating the others,
and ``remove: true`` on such an item drops it; any other list replaces the
base list whole.

Every value keeps the file and line it came from, so that a problem found
after merging still points at the line a person wrote.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from energy_sim.scenario.problems import Problem

#: A location inside a scenario: keys and list indices from the root.
PathKey = tuple[str | int, ...]

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_EXTENDS_DEPTH = 8
NAME_KEYS = ("code", "name")  # wijken have both; they merge by code
REMOVE_KEY = "remove"


@dataclass
class Located:
    """Plain data (dicts, lists, scalars) plus where each part was written."""

    data: Any
    #: path -> (file, 1-based line) for every key and list item
    where: dict[PathKey, tuple[str, int]] = field(default_factory=dict)

    def locate(self, path: PathKey, default_file: str) -> tuple[str, int | None]:
        """File and line of `path`, or of its nearest ancestor that was written."""
        for end in range(len(path), -1, -1):
            hit = self.where.get(tuple(path[:end]))
            if hit is not None:
                return hit
        return default_file, None


def format_path(path: PathKey) -> str:
    """``("wijken", 3, "adoption")`` -> ``wijken[3].adoption``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def display_name(path: Path) -> str:
    """A file name as users should see it: relative to the working folder if inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_located(path: Path, problems: list[Problem], _chain: tuple[Path, ...] = ()) -> Located | None:
    """Load one scenario file and everything it extends, merged.

    Problems (missing file, YAML syntax, an `extends` cycle) are appended to
    `problems`; the return value is None when nothing usable was read.
    """
    shown = display_name(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(display_name(p) for p in (*_chain, resolved))
        problems.append(Problem(shown, None, "extends", "extends_cycle", f"forms a cycle: {cycle}"))
        return None
    if len(_chain) >= MAX_EXTENDS_DEPTH:
        problems.append(
            Problem(shown, None, "extends", "extends_depth", f"extends chain deeper than {MAX_EXTENDS_DEPTH} files")
        )
        return None

    own = _read_one(path, shown, problems)
    if own is None:
        return None
    if not isinstance(own.data, dict):
        problems.append(
            Problem(shown, 1, "", "not_a_mapping", "a scenario file must be a mapping of sections (meta, horizon, ...)")
        )
        return None

    parent_ref = own.data.pop("extends", None)
    if parent_ref is None:
        return own
    ref_file, ref_line = own.locate(("extends",), shown)
    own.where = {k: v for k, v in own.where.items() if k[:1] != ("extends",)}
    if not isinstance(parent_ref, str) or not parent_ref.endswith((".yaml", ".yml")):
        problems.append(
            Problem(ref_file, ref_line, "extends", "extends_path",
                    "must be the path of a .yaml file, relative to this file", parent_ref)
        )
        return own
    parent_path = path.parent / parent_ref
    if not parent_path.is_file():
        problems.append(
            Problem(ref_file, ref_line, "extends", "missing_file",
                    f"file not found (looked for {display_name(parent_path)})", parent_ref)
        )
        return own
    parent = load_located(parent_path, problems, (*_chain, resolved))
    if parent is None:
        return own
    return merge(parent, own)


def _read_one(path: Path, shown: str, problems: list[Problem]) -> Located | None:
    if not path.is_file():
        problems.append(Problem(shown, None, "", "missing_file", "file not found"))
        return None
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        problems.append(
            Problem(shown, None, "", "file_too_large", f"is {size} bytes; scenario files are limited to {MAX_FILE_BYTES}")
        )
        return None
    yaml = YAML(typ="rt", pure=True)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.load(text)
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, None, "", "encoding", f"is not UTF-8 text ({exc.reason})"))
        return None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        problems.append(Problem(shown, line, "", "yaml_syntax", f"YAML syntax error: {what}"))
        return None
    except YAMLError as exc:
        problems.append(Problem(shown, None, "", "yaml_syntax", f"YAML error: {exc}"))
        return None
    located = Located(None)
    counter = [0]
    try:
        located.data = _plain(node, (), shown, located.where, counter)
    except _TooManyNodes:
        problems.append(
            Problem(shown, None, "", "file_too_large", f"has more than {MAX_NODES} values (aliases expanded)")
        )
        return None
    except _ExplicitTag as exc:
        _, line = located.locate(exc.path, shown)
        problems.append(
            Problem(shown, line, format_path(exc.path), "yaml_tag",
                    f"uses the YAML tag {exc.tag!r}; scenario files are plain data and tags are not allowed")
        )
        return None
    return located


class _TooManyNodes(Exception):
    pass


class _ExplicitTag(Exception):
    def __init__(self, tag: str, path: PathKey):
        self.tag, self.path = tag, path


def _explicit_tag(node: Any) -> str | None:
    """The explicit YAML tag of a node (``!!python/object``, ``!foo``), if any."""
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return str(value) if value else None


def _plain(node: Any, path: PathKey, file: str, where: dict, counter: list[int]) -> Any:
    """Convert ruamel's round-trip nodes to plain Python, recording lines."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _TooManyNodes
    tag = _explicit_tag(node)
    if tag is not None:
        raise _ExplicitTag(tag, path)
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            key_path = (*path, str(key))
            line, _col = node.lc.key(key)
            where[key_path] = (file, line + 1)
            out[str(key)] = _plain(value, key_path, file, where, counter)
        return out
    if isinstance(node, CommentedSeq):
        out_list = []
        for index, value in enumerate(node):
            item_path = (*path, index)
            line, _col = node.lc.item(index)
            where[item_path] = (file, line + 1)
            out_list.append(_plain(value, item_path, file, where, counter))
        return out_list
    if isinstance(node, dt.datetime):
        return dt.datetime.fromisoformat(node.isoformat()) if node.tzinfo else dt.datetime(*node.timetuple()[:6])
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _subtree(where: dict[PathKey, tuple[str, int]], prefix: PathKey) -> dict[PathKey, tuple[str, int]]:
    n = len(prefix)
    return {k[n:]: v for k, v in where.items() if k[:n] == prefix and len(k) > n}


def _rebase(where: dict[PathKey, tuple[str, int]], prefix: PathKey) -> dict[PathKey, tuple[str, int]]:
    return {(*prefix, *k): v for k, v in where.items()}


def merge(base: Located, override: Located) -> Located:
    """`override` applied on top of `base` (see the module docstring for the rules)."""
    where: dict[PathKey, tuple[str, int]] = {}
    data = _merge_node(base.data, base.where, override.data, override.where, (), where)
    return Located(data, where)


def _merge_node(b: Any, bw: dict, o: Any, ow: dict, path: PathKey, out_where: dict) -> Any:
    if isinstance(b, dict) and isinstance(o, dict):
        merged = {}
        for key in {**b, **o}:
            kp = (*path, key)
            if key in o:
                if (key,) in ow:
                    out_where[kp] = ow[(key,)]
                if key in b:
                    merged[key] = _merge_node(b[key], _subtree(bw, (key,)), o[key], _subtree(ow, (key,)), kp, out_where)
                else:
                    merged[key] = o[key]
                    out_where.update(_rebase(_subtree(ow, (key,)), kp))
            else:
                if (key,) in bw:
                    out_where[kp] = bw[(key,)]
                merged[key] = b[key]
                out_where.update(_rebase(_subtree(bw, (key,)), kp))
        return merged
    if _is_named_list(b) and _is_named_list(o):
        return _merge_named_lists(b, bw, o, ow, path, out_where)
    out_where.update(_rebase(ow, path))
    return o


def _item_name(item: Any) -> Any:
    for key in NAME_KEYS:
        if isinstance(item, dict) and key in item:
            return (key, item[key])
    return None


def _is_named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_item_name(i) is not None for i in value)


def _merge_named_lists(b: list, bw: dict, o: list, ow: dict, path: PathKey, out_where: dict) -> list:
    result: list[tuple[Any, dict]] = []
    for i, item in enumerate(b):
        item_where = _subtree(bw, (i,))
        if (i,) in bw:
            item_where[()] = bw[(i,)]
        result.append((item, item_where))
    index_of = {_item_name(item): i for i, (item, _) in enumerate(result)}
    for j, item in enumerate(o):
        item_where = _subtree(ow, (j,))
        if (j,) in ow:
            item_where[()] = ow[(j,)]
        name = _item_name(item)
        if name in index_of:
            i = index_of[name]
            if item.get(REMOVE_KEY) is True:
                result[i] = (None, {})
                continue
            base_item, base_where = result[i]
            merged_where: dict = {}
            merged = _merge_node(base_item, base_where, item, item_where, (), merged_where)
            if () in item_where:
                merged_where[()] = item_where[()]
            result[i] = (merged, merged_where)
        else:
            index_of[name] = len(result)
            result.append((item, item_where))
    kept = [(item, w) for item, w in result if item is not None]
    for i, (_item, w) in enumerate(kept):
        for k, v in w.items():
            out_where[(*path, i, *k)] = v
    return [item for item, _ in kept]

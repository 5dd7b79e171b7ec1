"""Reading untrusted pandapower JSON: every known way past the class check is refused, and the named
module is never imported.

Each attack names the harmless module ``this`` (it prints the Zen of Python when imported) in a
place pandapower's decoder reaches: a DataFrame cell inside a table's nested JSON string. The
attacks are the reviewer's proofs of concept (/tmp/review/atk.py, atk2.py, diff.py): forms that
``json.loads`` rejects but ``pandas.read_json`` accepts, keyword arguments pandapower passes on to
``pandas.read_json``, and a table read from disk.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandapower as pp
import pytest

from energy_sim.grid.given_io import GivenGridError, check_json_classes, read_pandapower_json
from given_nets import two_substation_net

EVIL = {"_module": "this", "_class": "X", "_object": "1"}


def _net_dict() -> dict:
    return json.loads(pp.to_json(two_substation_net()))


def _load_table_with_evil_cell() -> dict:
    """The net's load table (orient split) with the hostile object in its first cell."""
    data = _net_dict()
    table = json.loads(data["_object"]["load"]["_object"])
    table["data"][0][0] = EVIL
    return table


def _with_load(**load_entry) -> str:
    data = _net_dict()
    data["_object"]["load"].update(load_entry)
    return json.dumps(data)


def _control_char() -> str:
    # a raw TAB inside a JSON string: json.loads (strict) rejects it, pandas accepts it
    s = json.dumps(_load_table_with_evil_cell()).replace('"_object": "1"', '"_object": "a\tb"')
    assert "\t" in s
    return _with_load(_object=s)


def _trailing_comma() -> str:
    s = json.dumps(_load_table_with_evil_cell())
    return _with_load(_object=s[:-1] + ",}")


def _bom() -> str:
    return _with_load(_object="\ufeff" + json.dumps(_load_table_with_evil_cell()))


def _lines() -> str:
    # line-delimited records: not one JSON document, so the old check saw plain data
    table = json.loads(_net_dict()["_object"]["load"]["_object"])
    rows = [dict(zip(table["columns"], r)) for r in table["data"]]
    rows[0]["name"] = EVIL
    return _with_load(_object="\n".join(json.dumps(r) for r in rows), lines=True, orient="records")


def _engine() -> str:
    return _with_load(engine="pyarrow")


def _old_nested_net() -> str:
    # pandapowerNet with its tables as a JSON string: pandapower decodes it with a second reader
    data = _net_dict()
    inner = json.loads(json.dumps(data["_object"]))
    inner["extra"] = EVIL
    data["_object"] = json.dumps(inner) + " "
    return json.dumps(data)


ATTACKS = {"control_char": _control_char, "trailing_comma": _trailing_comma, "bom": _bom, "lines": _lines,
           "engine_keyword": _engine, "nested_net_string": _old_nested_net}


def _pandapower_alone_imports(text: str) -> bool:
    code = "import sys, pandapower as pp\ntry:\n    pp.from_json_string(sys.stdin.read())\nexcept Exception:\n    pass\n"
    done = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True)
    return "Beautiful is better than ugly" in done.stdout


def _refused_without_import(path, monkeypatch, capsys) -> GivenGridError:
    monkeypatch.delitem(sys.modules, "this", raising=False)
    with pytest.raises(GivenGridError) as err:
        read_pandapower_json(path)
    assert "this" not in sys.modules
    assert "Beautiful is better than ugly" not in capsys.readouterr().out
    return err.value


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_way_past_the_old_check_is_refused_and_nothing_is_imported(attack, tmp_path, monkeypatch, capsys):
    text = ATTACKS[attack]()
    path = tmp_path / f"{attack}.json"
    path.write_text(text, encoding="utf-8")
    err = _refused_without_import(path, monkeypatch, capsys)
    assert err.rule in ("unsafe_object", "disallowed_object")


@pytest.mark.parametrize("attack", ["control_char", "trailing_comma", "lines"])
def test_the_refused_forms_do_reach_the_import_in_pandapower_alone(attack):
    """The attacks are real: pandapower's own reader imports `this` for them (run in a fresh process)."""
    assert _pandapower_alone_imports(ATTACKS[attack]())


def test_a_table_read_from_an_absolute_path_is_refused_and_nothing_is_imported(tmp_path, monkeypatch, capsys):
    table = tmp_path / "evil_table.json"
    table.write_text(json.dumps(_load_table_with_evil_cell()))
    path = tmp_path / "abspath.json"
    path.write_text(_with_load(_object=str(table)))
    assert _pandapower_alone_imports(path.read_text())
    err = _refused_without_import(path, monkeypatch, capsys)
    assert err.rule == "unsafe_object" and err.value == str(table)


@pytest.mark.parametrize("key, value", [("orient", "table"), ("dtype", ["x"]), ("is_multiindex", "yes"),
                                        ("typ", "series"), ("lines", True), ("chunksize", 1),
                                        ("storage_options", {})])
def test_only_the_keys_and_values_pandapower_writes_are_allowed_next_to_a_table(key, value, tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(_with_load(**{key: value}))
    with pytest.raises(GivenGridError) as err:
        read_pandapower_json(path)
    assert err.value.rule == "unsafe_object" and key in err.value.message


def test_a_string_mentioning_module_that_is_not_json_is_refused():
    data = _net_dict()
    data["_object"]["name"] = '{"_module": "this", "_class": "X",}'  # trailing comma: cannot be checked
    with pytest.raises(GivenGridError) as err:
        check_json_classes(json.dumps(data), "n.json")
    assert err.value.rule == "unsafe_object"


def test_the_check_passes_what_pandapower_writes(tmp_path):
    """Nets written by pandapower.to_json (LV net with geodata, MV benchmark net) pass unchanged."""
    import pandapower.networks as pn

    for net in (two_substation_net(), pn.mv_oberrhein()):
        check_json_classes(pp.to_json(net), "ok.json")

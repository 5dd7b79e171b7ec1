"""Scenario validation: every kind of mistake is reported, each at its line.

Expected lines are counted by hand in the YAML text of each test (line 1 is
the first line after the opening triple quote's newline).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from energy_sim.scenario import ScenarioError, load_scenario, scenario_hash, validate_file

VALID = """\
meta:
  name: t
horizon:
  start: 2025-01-06
  end: 2025-01-07
wijken:
  - code: WK016405
    name: Berflo Es
    dwellings: 100
    lon_deg: 6.8006
    lat_deg: 52.2530
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rules_at(problems) -> set[tuple[int | None, str, str]]:
    return {(p.line, p.path, p.rule) for p in problems}


def test_valid_file_has_no_problems(tmp_path):
    scenario, problems = validate_file(write(tmp_path, "ok.yaml", VALID))
    assert problems == []
    assert scenario.wijken[0].dwellings == 100
    assert scenario.horizon.resolution_min == 15  # the documented default


def test_yaml_syntax_error_reports_its_line(tmp_path):
    text = VALID.replace("    dwellings: 100\n", "    dwellings: [100\n")
    scenario, problems = validate_file(write(tmp_path, "s.yaml", text))
    assert scenario is None
    assert len(problems) == 1
    assert problems[0].rule == "yaml_syntax"
    # the unclosed '[' opens on line 9; the parser notices at line 10 at the earliest
    assert problems[0].line in (9, 10)


def test_duplicate_key_is_a_syntax_problem(tmp_path):
    text = VALID.replace("  name: t\n", "  name: t\n  name: u\n")
    _, problems = validate_file(write(tmp_path, "d.yaml", text))
    assert [p.rule for p in problems] == ["yaml_syntax"]
    assert problems[0].line == 3


def test_unknown_key_suggests_the_closest_known_key(tmp_path):
    text = VALID.replace("    dwellings: 100\n", "    dwellings: 100\n    dwelings: 5\n")
    _, problems = validate_file(write(tmp_path, "u.yaml", text))
    (problem,) = problems
    assert (problem.line, problem.path, problem.rule) == (10, "wijken[0].dwelings", "unknown_key")
    assert "did you mean 'dwellings'?" in problem.message


def test_every_kind_of_mistake_in_one_pass(tmp_path):
    text = """\
    meta:
      name: Not A Valid Name
    horizon:
      start: 2025-01-06
      end: 2025-01-07
      resolution_mn: 15
    wijken:
      - code: WK016405
        name: Berflo Es
        dwellings: lots
        lon_deg: 6.8006
        lat_deg: 152.0
    grid:
      lv_cable_type: NAYY 4x150 SEE
    assets:
      solar_fields:
        - name: veld
          wijk: WK016499
          p_peak_kwp: -5
    weather:
      source: knmi
      path: no-such-file.txt
    """
    scenario, problems = validate_file(write(tmp_path, "many.yaml", text))
    assert scenario is None
    assert rules_at(problems) == {
        (2, "meta.name", "name_format"),
        (6, "horizon.resolution_mn", "unknown_key"),
        (10, "wijken[0].dwellings", "type"),
        (12, "wijken[0].lat_deg", "less_than_equal"),
        (14, "grid.lv_cable_type", "unknown_reference"),
        (18, "assets.solar_fields[0].wijk", "unknown_reference"),
        (19, "assets.solar_fields[0].p_peak_kwp", "greater_than"),
        (22, "weather.path", "missing_file"),
    }
    by_path = {p.path: p for p in problems}
    assert by_path["assets.solar_fields[0].p_peak_kwp"].value == -5
    assert "did you mean 'NAYY 4x150 SE'" in by_path["grid.lv_cable_type"].message
    assert "did you mean 'WK016405'" in by_path["assets.solar_fields[0].wijk"].message
    # the fixed one-line form: file:line  path  message (got value)  [rule]
    assert str(by_path["wijken[0].lat_deg"]).endswith("wijken[0].lat_deg must be <= 90.0 (got 152.0)  [less_than_equal]")
    assert str(by_path["wijken[0].lat_deg"]).startswith(f"{tmp_path / 'many.yaml'}:12  ")


def test_missing_required_section_and_duplicate_names(tmp_path):
    text = """\
    meta:
      name: t
    wijken:
      - code: WK016405
        name: A
        dwellings: 1
        lon_deg: 6.8
        lat_deg: 52.2
      - code: WK016405
        name: B
        dwellings: 1
        lon_deg: 6.8
        lat_deg: 52.2
    """
    _, problems = validate_file(write(tmp_path, "m.yaml", text))
    assert ("horizon", "required") in {(p.path, p.rule) for p in problems}
    dup = [p for p in problems if p.rule == "duplicate_name"]
    assert [(p.line, p.path) for p in dup] == [(9, "wijken[1].code")]


def test_cross_field_rules(tmp_path):
    text = VALID.replace("  end: 2025-01-07\n", "  end: 2025-01-01\n").replace(
        "    lat_deg: 52.2530\n",
        "    lat_deg: 52.2530\n    adoption:\n      heat_pump_frac: 0.7\n      hybrid_heat_pump_frac: 0.5\n",
    )
    _, problems = validate_file(write(tmp_path, "x.yaml", text))
    assert {(p.path, p.rule) for p in problems} == {
        ("horizon", "end_before_start"),
        ("wijken[0].adoption", "share_sum"),
    }


def test_stations_far_from_every_wijk_or_named_twice_are_reported(tmp_path):
    text = VALID + """\
grid:
  stations:
    - {name: Hengelo Oele, lon_deg: 6.75, lat_deg: 52.24}
    - {name: swapped, lon_deg: 52.25, lat_deg: 6.80}
    - {name: Hengelo Oele, lon_deg: 6.80, lat_deg: 52.26}
"""
    _, problems = validate_file(write(tmp_path, "x.yaml", text))
    found = {(p.line, p.path, p.rule): p for p in problems}
    assert set(found) == {(15, "grid.stations[1]", "station_far"), (16, "grid.stations[2].name", "duplicate_name")}
    # Berflo Es (6.80 E, 52.25 N) to (52.25 E, 6.80 N): thousands of km, by the haversine formula
    assert "lon_deg and lat_deg swapped" in found[(15, "grid.stations[1]", "station_far")].message


def test_stations_do_not_go_with_a_given_city_net(tmp_path):
    text = VALID + """\
grid:
  source: simbench
  simbench_code: 1-LV-rural1--0-sw
  stations:
    - {name: Hengelo Oele, lon_deg: 6.75, lat_deg: 52.24}
"""
    _, problems = validate_file(write(tmp_path, "x.yaml", text))
    assert ("grid", "not_applicable") in {(p.path, p.rule) for p in problems}


def test_extends_merges_and_reports_lines_in_the_file_that_wrote_them(tmp_path):
    write(tmp_path, "base.yaml", VALID + textwrap.dedent("""\
    assets:
      solar_fields:
        - name: a
          wijk: WK016405
          p_peak_kwp: 100
        - name: b
          wijk: WK016405
          p_peak_kwp: 200
    """))
    (tmp_path / "partners").mkdir()
    child = write(tmp_path / "partners", "child.yaml", """\
    extends: ../base.yaml
    meta:
      name: child
    wijken:
      - code: WK016405
        dwellings: 250
    assets:
      solar_fields:
        - name: b
          p_peak_kwp: 300
        - name: c
          wijk: WK016405
          p_peak_kwp: 50
    """)
    scenario = load_scenario(child)
    assert scenario.meta.name == "child"
    wijk = scenario.wijken[0]
    assert (wijk.name, wijk.dwellings) == ("Berflo Es", 250)  # merged by code: name kept, dwellings overridden
    fields = {f.name: f.p_peak_kwp for f in scenario.assets.solar_fields}
    assert fields == {"a": 100, "b": 300, "c": 50}

    broken = write(tmp_path / "partners", "broken.yaml", """\
    extends: child.yaml
    assets:
      solar_fields:
        - name: a
          p_peak_kwp: 0
    """)
    _, problems = validate_file(broken)
    (problem,) = problems
    assert problem.file.endswith("broken.yaml") and problem.line == 5
    assert problem.path == "assets.solar_fields[0].p_peak_kwp"

    # a mistake inherited from the base is reported at the base's line
    write(tmp_path, "base2.yaml", VALID.replace("    dwellings: 100\n", "    dwellings: 0\n"))
    inheriting = write(tmp_path, "inherit.yaml", "extends: base2.yaml\nmeta:\n  name: inherit\n")
    _, problems = validate_file(inheriting)
    (problem,) = problems
    assert problem.file.endswith("base2.yaml") and problem.line == 9


def test_extends_remove_and_missing_base_and_cycle(tmp_path):
    write(tmp_path, "base.yaml", VALID + "assets:\n  batteries:\n    - {name: x, wijk: WK016405, p_kw: 10, e_kwh: 20}\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nassets:\n  batteries:\n    - {name: x, remove: true}\n")
    assert load_scenario(child).assets.batteries == []

    missing = write(tmp_path, "missing.yaml", "extends: nowhere.yaml\nmeta:\n  name: m\n")
    _, problems = validate_file(missing)
    assert ("extends", "missing_file", 1) in {(p.path, p.rule, p.line) for p in problems}

    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\n")
    _, problems = validate_file(b)
    assert "extends_cycle" in {p.rule for p in problems}


def test_weather_path_is_relative_to_the_file_that_names_it(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.csv").write_text("time_utc,ghi_w_m2\n")
    scenario = load_scenario(write(tmp_path, "w.yaml", VALID + "weather:\n  source: csv\n  path: data/w.csv\n"))
    assert Path(scenario.weather.path) == (tmp_path / "data" / "w.csv").resolve()


def test_load_scenario_raises_with_every_problem(tmp_path):
    text = VALID.replace("    dwellings: 100\n", "    dwellings: -1\n").replace("  name: t\n", "  name: T\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, "e.yaml", text))
    assert len(caught.value.problems) == 2
    assert isinstance(caught.value, ValueError)


def test_hash_depends_on_content_not_on_formatting(tmp_path):
    a = load_scenario(write(tmp_path, "a.yaml", VALID))
    b = load_scenario(write(tmp_path, "b.yaml", "# a comment\n" + VALID.replace("dwellings: 100", "dwellings:   100")))
    c = load_scenario(write(tmp_path, "c.yaml", VALID.replace("dwellings: 100", "dwellings: 101")))
    assert scenario_hash(a) == scenario_hash(b)
    assert scenario_hash(a) != scenario_hash(c)


def test_hostile_yaml_is_refused_without_executing_anything(tmp_path):
    marker = tmp_path / "pwned"
    text = f"meta: !!python/object/apply:os.system ['touch {marker}']\n"
    _, problems = validate_file(write(tmp_path, "evil.yaml", text))
    assert problems and not marker.exists()
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefg", "bcdefgh")
    )
    _, problems = validate_file(write(tmp_path, "bomb.yaml", bomb))
    assert [p.rule for p in problems] == ["file_too_large"]


def test_cli_validate_lists_all_problems_with_exit_status_2(tmp_path):
    bad = write(tmp_path, "bad.yaml", VALID.replace("dwellings: 100", "dwellings: -1").replace("name: t", "name: T"))
    done = subprocess.run(
        [sys.executable, "-m", "energy_sim.cli", "validate", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:2  meta.name")
    assert lines[1].startswith(f"{bad}:9  wijken[0].dwellings must be >= 1 (got -1)")

    ok = write(tmp_path, "ok.yaml", VALID)
    done = subprocess.run(
        [sys.executable, "-m", "energy_sim.cli", "validate", "--json", str(ok)], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert json.loads(done.stdout)[0]["valid"] is True


def test_cli_schema_is_json_schema_that_describes_the_sections():
    done = subprocess.run([sys.executable, "-m", "energy_sim.cli", "schema"], capture_output=True, text=True)
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert {"meta", "horizon", "weather", "grid", "wijken", "assets", "policies", "outputs", "seed", "extends"} <= set(
        schema["properties"]
    )
    assert schema["$defs"]["Wijk"]["additionalProperties"] is False


def test_shipped_scenarios_are_valid():
    root = Path(__file__).resolve().parents[2] / "scenarios"
    files = sorted(root.rglob("*.yaml"))
    assert files, "no scenarios shipped"
    for file in files:
        _, problems = validate_file(file)
        assert problems == [], f"{file}: {[str(p) for p in problems]}"

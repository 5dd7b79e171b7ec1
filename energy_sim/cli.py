"""The `energy-sim` command.

    energy-sim validate FILE...     check scenario files, report every problem
    energy-sim schema               print the JSON Schema of scenario files
    energy-sim run FILE             validate, then simulate and write results

Exit status: 0 success, 2 invalid input (a scenario or data file), 1 a run
that failed for another reason.  User mistakes never show a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from energy_sim import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except KeyboardInterrupt:
        print("energy-sim: interrupted; results written so far are kept.", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="energy-sim",
        description="Grid-aware energy-transition simulator: where, when and how much the grid congests.",
    )
    parser.add_argument("--version", action="version", version=f"energy-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check scenario files and report every problem")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.set_defaults(handler=_schema)

    run = commands.add_parser("run", help="validate a scenario, then simulate it and write results")
    run.add_argument("file", type=Path, metavar="FILE")
    run.add_argument("--output-dir", type=Path, default=None, help="results folder (default: the scenario's outputs.directory)")
    run.add_argument("--quiet", action="store_true", help="no progress bar; only the summary table")
    run.add_argument("--json", action="store_true", help="print a machine-readable summary instead of the table")
    run.set_defaults(handler=_run)
    return parser


def _validate(args: argparse.Namespace) -> int:
    from energy_sim.scenario import scenario_hash, validate_file

    report = []
    any_problem = False
    for file in args.files:
        scenario, problems = validate_file(file)
        any_problem |= bool(problems)
        entry = {"file": str(file), "valid": not problems, "problems": [p.as_dict() for p in problems]}
        if scenario is not None:
            entry["name"] = scenario.meta.name
            entry["scenario_hash"] = scenario_hash(scenario)
        report.append(entry)
        if not args.json:
            if problems:
                for problem in problems:
                    print(problem)
                print(f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}", file=sys.stderr)
            else:
                print(f"{file}: ok (scenario {scenario.meta.name!r}, hash {entry['scenario_hash'][:12]})")
    if args.json:
        print(json.dumps(report, indent=2))
    return EXIT_INVALID if any_problem else EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from energy_sim.scenario.jsonschema import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from energy_sim.engine import RunError, run_scenario_file
    from energy_sim.scenario import ScenarioError

    try:
        outcome = run_scenario_file(args.file, output_dir=args.output_dir, progress=not (args.quiet or args.json))
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: not run; {len(exc.problems)} problem(s) to fix first", file=sys.stderr)
        return EXIT_INVALID
    except RunError as exc:
        print(f"energy-sim: {exc}", file=sys.stderr)
        return exc.exit_status
    if args.json:
        print(json.dumps(outcome.summary_json(), indent=2))
    else:
        print(outcome.summary_text())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

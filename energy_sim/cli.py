"""The `energy-sim` command.

    energy-sim validate FILE...     check scenario files, report every problem
    energy-sim schema               print the JSON Schema of scenario files
    energy-sim run FILE             validate, then simulate and write results
    energy-sim report RESULTS       one self-contained HTML report of a run
    energy-sim compare A B ...      several runs side by side, differences to the first
    energy-sim export RESULTS       CSV files for spreadsheets, a Markdown memo

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

    report = commands.add_parser("report", help="write a self-contained HTML report of a run")
    report.add_argument("results", type=Path, metavar="RESULTS", help="a run folder or its results.nc")
    report.add_argument("-o", "--output", type=Path, default=None,
                        help="HTML file to write (default: report.html in the run folder)")
    report.add_argument("--quiet", action="store_true", help="print nothing on success")
    report.add_argument("--json", action="store_true", help="print what was written, machine-readable")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare", help="put runs side by side, with differences to the first",
        description="Compare runs by position in their horizon: same wijken, resolution and number of steps "
                    "(another year is fine; two whole years of 365 and 366 days are comparable).")
    compare.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help="two or more run folders or results.nc")
    compare.add_argument("--labels", nargs="+", default=None, metavar="LABEL",
                         help="one name per run (default: the scenario names)")
    compare.add_argument("-o", "--output", type=Path, default=None, help="also write an HTML page with figures")
    compare.add_argument("--quiet", action="store_true", help="no table on standard output")
    compare.add_argument("--json", action="store_true", help="print the comparison machine-readable")
    compare.set_defaults(handler=_compare)

    export = commands.add_parser("export", help="write CSV files and/or a Markdown memo of a run")
    export.add_argument("results", type=Path, metavar="RESULTS", help="a run folder or its results.nc")
    export.add_argument("--csv", type=Path, default=None, metavar="DIR", help="folder for per-wijk and per-element CSV files")
    export.add_argument("--markdown", type=Path, default=None, metavar="FILE", help="Markdown memo to write")
    export.add_argument("--quiet", action="store_true", help="print nothing on success")
    export.add_argument("--json", action="store_true", help="print the files written, machine-readable")
    export.set_defaults(handler=_export)
    return parser


def _open_results_or_explain(path: Path):
    """The Dataset at `path`, or None after saying on standard error what to do."""
    from energy_sim.results import open_results

    try:
        return open_results(path)
    except FileNotFoundError as exc:
        print(f"energy-sim: {exc}; give a run folder such as results/<scenario name> "
              f"(made by `energy-sim run SCENARIO`) or its results.nc", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"energy-sim: {path} is not a readable results file ({exc}); give a run folder or results.nc "
              f"written by `energy-sim run`", file=sys.stderr)
    return None


def _report(args: argparse.Namespace) -> int:
    from energy_sim.results.export import IncompleteResults
    from energy_sim.results.report import FIGURE_IDS, write_report

    ds = _open_results_or_explain(args.results)
    if ds is None:
        return EXIT_INVALID
    if args.output is not None:
        target = args.output
    else:
        target = (args.results.parent if args.results.is_file() else args.results) / "report.html"
    try:
        written = write_report(ds, target)
    except IncompleteResults as exc:
        print(f"energy-sim report: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"energy-sim: cannot write the report to {target} ({exc}); choose another file with -o", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"report": str(written), "scenario_name": ds.attrs.get("scenario_name"),
                          "status": ds.attrs.get("status"), "figures": list(FIGURE_IDS)}, indent=2))
    elif not args.quiet:
        print(f"Report: {written}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from energy_sim.results.compare import RunsNotComparable, compare_runs

    try:
        comparison = compare_runs(args.results, labels=args.labels)
    except RunsNotComparable as exc:
        print(f"energy-sim compare: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except FileNotFoundError as exc:
        print(f"energy-sim compare: {exc}; give run folders such as results/<scenario name> "
              f"(made by `energy-sim run SCENARIO`) or their results.nc", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, ValueError) as exc:
        print(f"energy-sim compare: a path is not a readable results file ({exc}); give run folders or "
              f"results.nc files written by `energy-sim run`", file=sys.stderr)
        return EXIT_INVALID
    if args.output is not None:
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(comparison.html(), encoding="utf-8")
        except OSError as exc:
            print(f"energy-sim: cannot write {args.output} ({exc}); choose another file with -o", file=sys.stderr)
            return EXIT_FAILED
    if args.json:
        record = comparison.as_json()
        if args.output is not None:
            record["html"] = str(args.output)
        print(json.dumps(record, indent=2))
    elif not args.quiet:
        print(comparison.text())
        if args.output is not None:
            print(f"\nComparison page: {args.output}")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from energy_sim.results.export import IncompleteResults, export_csv, export_markdown

    if args.csv is None and args.markdown is None:
        print("energy-sim export: nothing to do; add --csv DIR and/or --markdown FILE", file=sys.stderr)
        return EXIT_INVALID
    ds = _open_results_or_explain(args.results)
    if ds is None:
        return EXIT_INVALID
    written: list[Path] = []
    try:
        if args.csv is not None:
            written += export_csv(ds, args.csv)
        if args.markdown is not None:
            written.append(export_markdown(ds, args.markdown))
    except IncompleteResults as exc:
        print(f"energy-sim export: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"energy-sim: cannot write the export ({exc}); choose another --csv folder or --markdown file",
              file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"files": [str(p) for p in written]}, indent=2))
    elif not args.quiet:
        for path in written:
            print(f"Wrote {path}")
    return EXIT_OK


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

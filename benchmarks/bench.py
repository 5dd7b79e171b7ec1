"""Run the benchmark suites, print the table, check the gate, refresh the baseline.

Usage (the Makefile targets call these; see benchmarks/README.md)::

    python benchmarks/bench.py table     [--json OUT] [-- PYTEST ARGS]   # make bench
    python benchmarks/bench.py check     [--baseline B] [-- PYTEST ARGS] # make bench-check
    python benchmarks/bench.py baseline  [--runs 3]                      # make bench-baseline
    python benchmarks/bench.py show JSON                                 # table of a saved run

How the gate normalises: each case's *score* is its CPU time divided by the
CPU time of the calibration kernel measured in the same process, interleaved
with the case's rounds (``harness.py``); both are the minimum over the
rounds. A case fails when its score is more than ``--max-ratio`` (2.0) times
the baseline score. A failing case is re-run on its own up to ``--retries``
times and keeps its best score, so a burst of load on a shared machine does
not fail CI while a real slowdown fails every attempt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_BASELINE = HERE / "baseline.json"
#: Suites of other engineers that are not part of the gate: the load-flow
#: acceptance benchmark asserts speed-up targets against pandapower and
#: power-grid-model itself and spends most of its time in the anchors.
#: The city-year profiles benchmark runs 40,000 homes for a year in one
#: round (~10 s of CPU) and the module about a minute; its per-kernel cases repeat test_profiles_benchmark.py.
NOT_GATED_FILES = ("test_loadflow_benchmark.py", "test_profiles_city_benchmark.py")
#: Cases left out of the gate (still in the table) to keep it well inside the
#: CI budget: a year of uncontrolled EV charging runs the same code as the
#: smart case minus the caps, which the gated smart case covers.
GATE_DESELECT = ("benchmarks/test_events_benchmark.py::test_year_of_ev_charging[uncontrolled-None]",)
SCHEMA = 1


# ----------------------------------------------------------------------------- running


def suite_files(gate: bool) -> list[str]:
    files = sorted(p for p in HERE.glob("test_*_benchmark.py"))
    if gate:
        files = [p for p in files if p.name not in NOT_GATED_FILES]
    return [str(p.relative_to(ROOT)) for p in files]


def run_pytest(targets: list[str], json_out: Path, extra: list[str], gate: bool) -> int:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    cmd = [sys.executable, "-m", "pytest", *targets, "--benchmark-only", f"--benchmark-json={json_out}",
           "--benchmark-disable-gc", "-p", "no:cacheprovider", "-q", "--benchmark-quiet",
           "-W", "ignore::DeprecationWarning", "-W", "ignore::FutureWarning"]
    if gate:
        cmd += ["-m", "not anchor"]
        for nodeid in GATE_DESELECT:
            cmd += ["--deselect", nodeid]
    else:
        cmd += ["--bench-memory"]
    cmd += extra
    print("+", " ".join(cmd[2:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


def load_run(path: Path) -> dict:
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- figures


def case_name(bench: dict) -> str:
    name = bench["name"]
    return name[5:] if name.startswith("test_") else name


def case_id(bench: dict) -> str:
    return bench["fullname"]


def session_calibration(run: dict) -> tuple[float, float]:
    cal = run.get("energy_sim_calibration", {})
    cpu, wall = cal.get("cpu_s") or [float("nan")], cal.get("wall_s") or [float("nan")]
    return min(cpu), min(wall)


def score(bench: dict, run: dict) -> tuple[float, str]:
    """Normalised cost of a case and how it was normalised."""
    info = bench.get("extra_info", {})
    if info.get("cpu_s") and info.get("calibration_cpu_s"):
        return min(info["cpu_s"]) / min(info["calibration_cpu_s"]), "cpu/interleaved"
    # A suite that does not use harness.measure: the CPU time of the whole test
    # call (conftest's hook) per timed round, over the session's calibration.
    cal = run.get("energy_sim_calibration", {})
    cal_cpu, cal_wall = session_calibration(run)
    test_cpu = cal.get("test_cpu_s", {}).get(bench["fullname"])
    if test_cpu:
        return test_cpu / bench["stats"]["rounds"] / cal_cpu, "cpu/test call"
    return bench["stats"]["min"] / cal_wall, "wall/session"


def seconds(bench: dict) -> float:
    info = bench.get("extra_info", {})
    return min(info["wall_s"]) if isinstance(info.get("wall_s"), list) and info["wall_s"] else bench["stats"]["min"]


def cpu_seconds(bench: dict) -> float:
    """CPU time when measured by harness.measure (one thread), else wall time."""
    info = bench.get("extra_info", {})
    return min(info["cpu_s"]) if isinstance(info.get("cpu_s"), list) and info["cpu_s"] else seconds(bench)


def steps(bench: dict) -> int | None:
    info = bench.get("extra_info", {})
    for key in ("steps", "n_step", "steps_measured"):
        if info.get(key):
            return int(info[key])
    return None


# ----------------------------------------------------------------------------- table


def _fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def table(run: dict) -> str:
    benches = run["benchmarks"]
    # steps/s of each anchor per grid
    anchors: dict[tuple[str, str], float] = {}
    for b in benches:
        info = b.get("extra_info", {})
        if info.get("anchor") and info.get("grid") and steps(b):
            anchors[(info["grid"], info["anchor"])] = steps(b) / cpu_seconds(b)
    rows = [("case", "stage", "steps", "seconds", "steps/s", "year s", "traced MiB", "RSS MiB",
             "× run_timeseries", "× PGM", "note")]
    for b in benches:
        info = b.get("extra_info", {})
        n, s = steps(b), seconds(b)
        rate = n / s if n else None
        full = info.get("extrapolate_to_steps")
        year_s = f"{s * full / n:.1f}*" if (full and n) else (_fmt_s(s) if n in (35_040, 35_136) else "")
        mem = info.get("peak_rss_growth_mib")
        traced = info.get("peak_traced_mib")
        ratios = []
        for anchor in ("run_timeseries", "pgm"):
            ref = anchors.get((info.get("grid", ""), anchor))
            if info.get("anchor") or not ref or not rate:
                ratios.append("")
            else:
                ratios.append(f"{n / cpu_seconds(b) / ref:,.1f}×")
        note = info.get("label", "")
        if info.get("anchor"):
            note = f"anchor: {note}"
        if not info.get("stage"):
            note = f"{Path(b['fullname'].split('::')[0]).name}; {note}".rstrip("; ")
        if info.get("repeat", 1) != 1:
            note += f" (deliberately slowed: x{info['repeat']})"
        rows.append((
            case_name(b), info.get("stage", b.get("group") or ""), f"{n:,}" if n else "—", _fmt_s(s),
            f"{rate:,.0f}" if rate else "—", year_s, f"{traced:,.1f}" if traced is not None else "n/a",
            f"{mem:,.0f}" if mem is not None else "n/a",
            *ratios, note,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    cal_cpu, cal_wall = session_calibration(run)
    lines.append("")
    lines.append(f"seconds: wall clock, minimum over the timed rounds. year s: the time for a full year "
                 f"(* = extrapolated linearly from the slice). traced MiB: tracemalloc peak of one extra call "
                 f"(numpy + Python; blind to numba/C++). RSS MiB: largest growth of the process's peak RSS "
                 f"(VmHWM) in a timed round (all allocators; under-counts reused heap). × run_timeseries / × PGM: "
                 f"our steps per CPU second over the anchor's, same grid and profiles (CPU time: the cases ran at "
                 f"different moments of a shared machine). "
                 f"Calibration kernel: {cal_cpu * 1e3:.1f} ms CPU, {cal_wall * 1e3:.1f} ms wall; "
                 f"threads {run.get('energy_sim_calibration', {}).get('threads', '?')}; "
                 f"{run.get('machine_info', {}).get('cpu', {}).get('brand_raw', platform.processor())}.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- gate


def compare(scores: dict[str, tuple[float, str]], baseline: dict, max_ratio: float) -> tuple[list, list, list]:
    ok, failed, new = [], [], []
    for cid, (sc, how) in scores.items():
        ref = baseline["cases"].get(cid)
        if ref is None:
            new.append((cid, sc, how))
            continue
        ratio = sc / ref["score"]
        (failed if ratio > max_ratio else ok).append((cid, ratio, how))
    return ok, failed, new


def cmd_check(args, extra: list[str]) -> int:
    baseline = json.loads(Path(args.baseline).read_text())
    workdir = Path(tempfile.mkdtemp(prefix="bench-check-"))
    json_out = workdir / "run0.json"
    rc = run_pytest(suite_files(gate=True), json_out, extra, gate=True)
    if not json_out.exists():
        print(f"bench-check: the benchmark run failed before writing {json_out} (pytest exit {rc})")
        return 1
    run = load_run(json_out)
    print(table(run))
    scores = {case_id(b): score(b, run) for b in run["benchmarks"]}
    best = dict(scores)
    ok, failed, new = compare(best, baseline, args.max_ratio)
    attempt = 0
    while failed and attempt < args.retries:
        attempt += 1
        ids = [cid for cid, _, _ in failed]
        print(f"\nbench-check: {len(ids)} case(s) above {args.max_ratio}x; re-running them alone "
              f"(attempt {attempt} of {args.retries}): {', '.join(i.split('::')[-1] for i in ids)}")
        json_retry = workdir / f"run{attempt}.json"
        run_pytest(ids, json_retry, extra, gate=True)
        if json_retry.exists():
            retry = load_run(json_retry)
            for b in retry["benchmarks"]:
                s = score(b, retry)
                if s[0] < best[case_id(b)][0]:
                    best[case_id(b)] = s
        ok, failed, new = compare(best, baseline, args.max_ratio)

    print(f"\nGate: score = case CPU s / calibration CPU s (minimum of rounds); "
          f"fail above {args.max_ratio}x the baseline ({Path(args.baseline).name}, "
          f"recorded {baseline.get('created_utc', '?')})")
    for cid, ratio, how in sorted(ok + failed, key=lambda r: -r[1]):
        verdict = "FAIL" if ratio > args.max_ratio else ("ok, faster: refresh the baseline?" if ratio < 0.5 else "ok")
        print(f"  {ratio:6.2f}x  {cid.split('::')[-1]:45s} {how:16s} {verdict}")
    for cid, _, _ in new:
        print(f"     new  {cid.split('::')[-1]:45s} not in the baseline, not gated; run `make bench-baseline`")
    missing = sorted(set(baseline["cases"]) - set(best) - set(GATE_DESELECT))
    for cid in missing:
        print(f" missing  {cid.split('::')[-1]:45s} in the baseline but not run (error, renamed or removed?)")
    if missing:
        print(f"bench-check: FAILED — {len(missing)} baseline case(s) produced no measurement (pytest exit {rc}); "
              f"if a case was renamed or removed on purpose, refresh the baseline (`make bench-baseline`)")
        return 1
    if rc != 0:
        # Every case was measured, so the failure is an assertion after the
        # measurement (e.g. a suite's own wall-clock target on a loaded machine):
        # correctness is `make test`'s job, the gate judges speed.
        print(f"bench-check: note — pytest exited {rc} after all cases were measured (an assertion of a suite, "
              f"see above); the gate judges the normalised speed only")
    if failed:
        print(f"bench-check: FAILED — {len(failed)} case(s) more than {args.max_ratio}x slower than the baseline "
              f"after {attempt} re-run(s). If the slowdown is intended, refresh the baseline "
              f"(`make bench-baseline`) and commit benchmarks/baseline.json with the reason.")
        return 1
    print(f"bench-check: passed ({len(ok)} cases gated, {len(new)} new)")
    return 0


def cmd_table(args, extra: list[str]) -> int:
    json_out = Path(args.json) if args.json else Path(tempfile.mkdtemp(prefix="bench-")) / "run.json"
    rc = run_pytest(suite_files(gate=False), json_out, extra, gate=False)
    if json_out.exists():
        print()
        print(table(load_run(json_out)))
        print(f"\nraw results: {json_out}")
    return rc


def cmd_show(args, extra: list[str]) -> int:
    print(table(load_run(Path(args.json))))
    return 0


def cmd_baseline(args, extra: list[str]) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    per_case: dict[str, list[float]] = {}
    how_of: dict[str, str] = {}
    runs = [Path(f) for f in args.from_json] if args.from_json else [workdir / f"run{k}.json" for k in range(args.runs)]
    for k, json_out in enumerate(runs):
        rc = 0 if args.from_json else run_pytest(suite_files(gate=True), json_out, extra, gate=True)
        if not json_out.exists():
            print(f"bench-baseline: run {k + 1} failed (pytest exit {rc}); baseline not written")
            return 1
        if rc != 0:
            print(f"bench-baseline: note — pytest exited {rc} in run {k + 1} (an assertion after a measurement?)")
        run = load_run(json_out)
        for b in run["benchmarks"]:
            s, how = score(b, run)
            per_case.setdefault(case_id(b), []).append(s)
            how_of[case_id(b)] = how
        print(table(run))
    cases = {cid: {"score": statistics.median(v), "scores": [round(x, 4) for x in v], "normalised_by": how_of[cid]}
             for cid, v in sorted(per_case.items())}
    out = {
        "schema": SCHEMA,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu",
        "python": platform.python_version(),
        "how": "score = min CPU s of the case / min CPU s of the interleaved calibration kernel; "
               "baseline score = median over runs",
        "cases": cases,
    }
    Path(args.baseline).write_text(json.dumps(out, indent=1) + "\n")
    print(f"bench-baseline: wrote {args.baseline} ({len(cases)} cases, median of {len(runs)} runs)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="run every suite (anchors included) and print the table")
    t.add_argument("--json", help="keep the pytest-benchmark JSON here")
    c = sub.add_parser("check", help="the gate: run the gated suites and compare with the baseline")
    c.add_argument("--baseline", default=str(DEFAULT_BASELINE))
    c.add_argument("--max-ratio", type=float, default=2.0)
    c.add_argument("--retries", type=int, default=2)
    b = sub.add_parser("baseline", help="measure the gated suites --runs times and write the baseline")
    b.add_argument("--baseline", default=str(DEFAULT_BASELINE))
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--from-json", nargs="+", help="build the baseline from saved gate runs instead of running")
    s = sub.add_parser("show", help="print the table of a saved pytest-benchmark JSON")
    s.add_argument("json")
    args = p.parse_args(argv)
    return {"table": cmd_table, "check": cmd_check, "baseline": cmd_baseline, "show": cmd_show}[args.cmd](args, extra)


if __name__ == "__main__":
    sys.exit(main())

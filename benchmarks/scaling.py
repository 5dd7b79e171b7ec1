"""Scaling sweep: time and peak memory of a whole run vs connections and horizon.

Each point runs ``energy_sim.engine.run_scenario`` on scenarios/smoke.yaml
with the wijk's dwellings set to N (one wijk; ~175 homes per generated LV
grid) and the horizon set to a week, a month or a year, **in its own
subprocess**, so that its peak memory is the child's own maximum resident
set (``ru_maxrss`` from ``os.wait4``; all allocators, imports included; the
RSS after imports is shown separately).

Points whose estimated time exceeds ``--budget-min`` are not run; the table
says so and gives the estimate (CPU time per connection-step of the largest
point measured; wall time on a loaded machine is longer). Usage::

    python benchmarks/scaling.py                       # 1k/10k/40k x week/month/year, 20 min budget per point
    python benchmarks/scaling.py --connections 1000,10000 --horizons week,month --write-readme

``--write-readme`` replaces the table between the ``scaling-table`` markers
in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HORIZONS = {  # name: (start, end, steps at 15 min)
    "week": ("2025-01-06", "2025-01-13", 7 * 96),
    "month": ("2025-01-01", "2025-02-01", 31 * 96),
    "year": ("2025-01-01", "2026-01-01", 365 * 96),
}
BEGIN, END = "<!-- scaling-table:begin -->", "<!-- scaling-table:end -->"

CHILD = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from energy_sim.engine import run_scenario_file
def rss_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
rss_imports = rss_kib()
t1, c1 = time.perf_counter(), time.process_time()
run_scenario_file(sys.argv[1], output_dir=Path(sys.argv[2]), progress=False)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_s": t1 - t0, "run_s": t2 - t1, "run_cpu_s": c2 - c1, "rss_after_imports_kib": rss_imports}))
"""


def write_scenario(path: Path, n_connections: int, horizon: str) -> None:
    yaml = YAML()
    doc = yaml.load((ROOT / "scenarios" / "smoke.yaml").read_text())
    start, end, _ = HORIZONS[horizon]
    doc["meta"]["name"] = f"scaling-{n_connections}-{horizon}"
    doc["horizon"]["start"], doc["horizon"]["end"] = start, end
    doc["wijken"][0]["dwellings"] = n_connections
    with path.open("w") as f:
        yaml.dump(doc, f)


def run_point(n_connections: int, horizon: str, workdir: Path) -> dict:
    scenario = workdir / f"scaling-{n_connections}-{horizon}.yaml"
    write_scenario(scenario, n_connections, horizon)
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(var, "1")
    out_path = workdir / "out.json"
    with out_path.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(scenario), str(workdir / "results")],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"scaling point {n_connections} x {horizon} failed (status {status})")
    child = json.loads(out_path.read_text().strip().splitlines()[-1])
    return {
        "connections": n_connections, "horizon": horizon, "steps": HORIZONS[horizon][2],
        "run_s": child["run_s"], "run_cpu_s": child["run_cpu_s"], "process_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024.0, "rss_after_imports_mib": child["rss_after_imports_kib"] / 1024.0,
    }


def render(points: list[dict], skipped: list[tuple[int, str, float]]) -> str:
    lines = ["| connections | horizon | steps | run wall s | run CPU s | CPU µs per connection-step | peak RSS MiB | RSS after imports MiB |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        us = p["run_cpu_s"] / (p["connections"] * p["steps"]) * 1e6
        lines.append(f"| {p['connections']:,} | {p['horizon']} | {p['steps']:,} | {p['run_s']:.1f} | {p['run_cpu_s']:.1f} | {us:.2f} | "
                     f"{p['peak_rss_mib']:,.0f} | {p['rss_after_imports_mib']:,.0f} |")
    for n, h, est_min in skipped:
        lines.append(f"| {n:,} | {h} | {HORIZONS[h][2]:,} | not run (est. {est_min:,.0f} min) | | | | |")
    lines.append("")
    lines.append("run wall s / run CPU s: wall and CPU time of `run_scenario` (grid build, profiles, load flow, "
                 "metrics, NetCDF), imports excluded; one wijk generated from scenarios/smoke.yaml with N dwellings. Peak RSS: the child "
                 "process's `ru_maxrss`. Measured on a shared 2-core machine under load from other jobs, one thread.")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", default="1000,10000,40000")
    ap.add_argument("--horizons", default="week,month,year")
    ap.add_argument("--budget-min", type=float, default=20.0, help="skip points estimated to take longer [min]")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    conns = sorted(int(x) for x in args.connections.split(","))
    horizons = sorted(args.horizons.split(","), key=lambda h: HORIZONS[h][2])
    points: list[dict] = []
    skipped: list[tuple[int, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        for n in conns:
            for h in horizons:
                if points:
                    ref = max(points, key=lambda p: p["connections"] * p["steps"])
                    est_min = ref["run_cpu_s"] / (ref["connections"] * ref["steps"]) * n * HORIZONS[h][2] / 60.0
                    if est_min > args.budget_min:
                        skipped.append((n, h, est_min))
                        print(f"skip {n:,} x {h}: estimated {est_min:.0f} min > budget", flush=True)
                        continue
                p = run_point(n, h, Path(tmp))
                points.append(p)
                print(json.dumps(p), flush=True)
    text = render(points, skipped)
    print(text)
    if args.write_readme:
        readme = HERE / "README.md"
        doc = readme.read_text()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
            print(f"wrote the table into {readme}")
        else:
            print(f"{readme} has no {BEGIN} ... {END} markers; table not written")
    return 0


if __name__ == "__main__":
    sys.exit(main())

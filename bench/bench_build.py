"""`capi-writeback build` end to end, as a whole process, vs a floor process; its peak RSS by size;
and the effect of the garbage-collector policy (issue 10, SPEC §12).

- Speed: the CLI turns 50,000 messy rows (bench_pipeline's generator) into events, read from a
  JSON Lines file and written to a file, against `bench/floor_build.py` on the same file (read
  JSONL, strip/lower + SHA-256 of 9 PII fields, `json.dumps` per row, write). Both are whole
  processes (start-up and imports included), run in interleaved rounds; each is charged its own
  CPU time (user + system, from `wait4`), which, unlike wall time, does not grow when neighbours
  compete for the cores. Best of BENCH_BUILD_ROUNDS. Goal: CLI speed >= 0.6 x the floor's.
- Memory: peak RSS (`ru_maxrss` of the process) of the CLI at each size of BENCH_BUILD_SIZES.
  Goal: <= 64 MB at any size.
- GC policy: the same 50k build with the policy of `capi_writeback.gc_policy` (as shipped), with the
  interpreter's default collector (policy switched off), and with the collector disabled.

Env knobs: BENCH_BUILD_ROUNDS (default 5), BENCH_BUILD_SIZES (default 10000,50000,200000,500000).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench.bench_pipeline import NOW, iter_messy_rows

ROOT = Path(__file__).resolve().parents[1]
FLOOR = ROOT / "bench" / "floor_build.py"
RESULTS = ROOT / "bench" / "results" / "build.json"
ROWS = 50_000
GOAL_RATIO = 0.6
GOAL_RSS_MB = 64
BUILD_ARGS = ["build", "--now", str(NOW), "--input"]
# The CLI with the GC policy switched off (events.py binds `long_build` when it is imported).
GC_VARIANT = ("import contextlib, gc, sys\n"
              "import capi_writeback.gc_policy as policy\n"
              "policy.long_build = contextlib.nullcontext\n"
              "{disable}\n"
              "from capi_writeback_local.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")


class Run(NamedTuple):
    cpu: float  # seconds, user + system
    wall: float
    rss_mb: float  # peak resident set size


def build_command(rows_path: Path) -> list[str]:
    return ["-m", "capi_writeback_local.cli", *BUILD_ARGS, str(rows_path)]


def write_rows(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in iter_messy_rows(count):
            out.write(json.dumps(row) + "\n")


def run(args: list[str], out_path: Path) -> Run:
    """One whole process, its stdout to `out_path`; its own CPU time and peak RSS from wait4."""
    with out_path.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    error = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:3]} exited {proc.returncode}: {error[-500:]}")
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.cpu)


def check_output(path: Path, rows: int) -> None:
    """Every row became an event (the benchmark rows are all valid)."""
    count = 0
    with path.open("rb") as lines:
        for line in lines:
            if b'"skipped"' in line[:40]:
                raise AssertionError(f"a benchmark row was skipped: {line[:300]!r}")
            count += 1
    if count != rows:
        raise AssertionError(f"{count} output lines for {rows} rows")


def speed(tmp: Path, rows_path: Path, rounds: int) -> dict[str, object]:
    out = tmp / "out.jsonl"
    run(build_command(rows_path), out)  # warm-up: page cache, bytecode
    run([str(FLOOR), str(rows_path)], out)
    floor_runs, cli_runs = [], []
    for _ in range(rounds):
        floor_runs.append(run([str(FLOOR), str(rows_path)], out))
        cli_runs.append(run(build_command(rows_path), out))
    check_output(out, ROWS)
    floor, cli = best(floor_runs), best(cli_runs)
    ratio = floor.cpu / cli.cpu
    print(f"rows: {ROWS}; whole processes, CPU seconds (user+system), best of {rounds} interleaved rounds")
    print(f"floor (read, sha256 of 9 fields, json.dumps, write): {floor.cpu:6.2f} s  "
          f"{ROWS / floor.cpu:8,.0f} rows/s  wall {floor.wall:5.2f} s  rss {floor.rss_mb:4.0f} MB")
    print(f"capi-writeback build                               : {cli.cpu:6.2f} s  "
          f"{ROWS / cli.cpu:8,.0f} rows/s  wall {cli.wall:5.2f} s  rss {cli.rss_mb:4.0f} MB")
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    rounds_ratios = [f.cpu / c.cpu for f, c in zip(floor_runs, cli_runs, strict=True)]
    each = ", ".join(f"{r:.2f}" for r in rounds_ratios)
    print(f"speed build/floor: {ratio:.2f} (best/best; goal >= {GOAL_RATIO}: {verdict}) "
          f"[each round: {each}; median {statistics.median(rounds_ratios):.2f}]")
    return {"rows": ROWS, "rounds": rounds, "floor": floor._asdict(), "build": cli._asdict(),
            "ratio": round(ratio, 3), "round_ratios": [round(r, 3) for r in rounds_ratios],
            "goal_ratio": GOAL_RATIO}


def memory(tmp: Path, sizes: list[int], rows_50k: Path) -> dict[str, object]:
    print(f"peak RSS of capi-writeback build (goal <= {GOAL_RSS_MB} MB at any size)")
    found: dict[str, object] = {}
    for size in sizes:
        path = rows_50k if size == ROWS else tmp / f"rows-{size}.jsonl"
        if not path.exists():
            write_rows(path, size)
        measured = run(build_command(path), tmp / "out.jsonl")
        check_output(tmp / "out.jsonl", size)
        if path != rows_50k:
            path.unlink()
        verdict = "ok" if measured.rss_mb <= GOAL_RSS_MB else "OVER"
        print(f"   {size:>9,} rows: {measured.rss_mb:5.1f} MB  {verdict}  (CPU {measured.cpu:6.2f} s, "
              f"{size / measured.cpu:7,.0f} rows/s)")
        found[str(size)] = measured._asdict()
    return found


def gc_effect(tmp: Path, rows_path: Path, rounds: int) -> dict[str, object]:
    variants = {
        "policy (shipped)": build_command(rows_path),
        "default collector": ["-c", GC_VARIANT.format(disable=""), *BUILD_ARGS, str(rows_path)],
        "collector disabled": ["-c", GC_VARIANT.format(disable="gc.disable()"), *BUILD_ARGS, str(rows_path)],
    }
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, args in variants.items():
            runs[name].append(run(args, tmp / "out.jsonl"))
    print(f"GC policy, {ROWS} rows, best of {rounds} interleaved rounds")
    found: dict[str, object] = {}
    for name, measured in runs.items():
        chosen = best(measured)
        print(f"   {name:<20} CPU {chosen.cpu:6.2f} s  peak RSS {chosen.rss_mb:5.1f} MB")
        found[name] = chosen._asdict()
    return found


def main() -> None:
    rounds = int(os.environ.get("BENCH_BUILD_ROUNDS", "5"))
    sizes = [int(s) for s in os.environ.get("BENCH_BUILD_SIZES", "10000,50000,200000,500000").split(",")]
    results: dict[str, object] = {"load_average_1m_start": round(os.getloadavg()[0], 2),
                                  "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cwb-build-") as name:
        tmp = Path(name)
        rows_path = tmp / "rows.jsonl"
        write_rows(rows_path, ROWS)
        results["speed"] = speed(tmp, rows_path, rounds)
        results["peak_rss_mb_by_rows"] = memory(tmp, sizes, rows_path)
        results["gc"] = gc_effect(tmp, rows_path, rounds)
    results["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    print(f"load average (1 min): {results['load_average_1m_start']} at start, "
          f"{results['load_average_1m_end']} at end; cpus={os.cpu_count()}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

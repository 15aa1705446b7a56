"""Cold start: import time of each handler module in a fresh interpreter vs `import boto3` alone.

Lambda imports the handler module on every cold start, and a SAM-built layer carries no `.pyc`
files (and /opt is read-only, so Python cannot cache the ones it compiles). To measure that
faithfully, this bench assembles a layer like `sam build` does: the `capi_writeback` package plus
its runtime dependencies (from requirements.txt and their requirements, boto3 excluded because the
runtime provides it) copied *without* bytecode into a temporary `python/` directory. Each sample is
a new interpreter with `PYTHONDONTWRITEBYTECODE=1`, the layer and the function folder first on the
path, and Lambda-like environment variables; it times `import app` (the handler module) or
`import boto3`. Baseline and handlers are sampled in interleaved rounds so drift hits both, and
the time taken is the child's CPU time (`time.process_time`), which, unlike wall time, does not
grow when other processes compete for the cores (these machines are shared).

Two layer variants are measured in the same run:
- `source`: as `sam build` ships it (every cold start compiles the layer's Python);
- `precompiled`: the same layer after `python -m compileall --invalidation-mode unchecked-hash`
  (bytecode shipped in the layer, valid without checking source timestamps).
Goal: every handler's median import time <= 1.6 x the median `import boto3`.

The MCP function (`functions/mcp`) also has a layer of its own (`layers/mcp`: the MCP SDK, Mangum),
assembled the same way; only its samples have that layer on the path, as only it has it on Lambda,
so another handler that imported the SDK would fail here. Its figure is reported apart from the
goal (the SDK's import is the price of MCP, paid by that function alone), with both layers' sizes.

Env knobs: BENCH_COLDSTART_RUNS (samples per measurement, default 7).
"""

from __future__ import annotations

import compileall
import importlib.metadata as metadata
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LAYER_SRC = ROOT / "layers" / "capi_writeback"
MCP_LAYER_SRC = ROOT / "layers" / "mcp"
MCP_HANDLER = "mcp"
FUNCTIONS = ROOT / "functions"
RESULTS = ROOT / "bench" / "results" / "coldstart.json"
GOAL = 1.6
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath-runtime-only"}
PROBE = (
    "import sys, time\n"
    "t = time.process_time()\n"
    "import {module}\n"
    "elapsed = time.process_time() - t\n"
    "bad = [m.__file__ for m in list(sys.modules.values())\n"
    "       if getattr(m, '__file__', None) and '{layer}' not in m.__file__\n"
    "       and m.__name__.split('.')[0] in {layer_packages!r}]\n"
    "print(elapsed if not bad else 'LEAK ' + bad[0])\n"
)


def _requirements(lines: list[str], extras: frozenset[str] = frozenset()) -> list[tuple[str, frozenset[str]]]:
    """(distribution name, requested extras) of requirement lines that apply here: environment
    markers are evaluated (e.g. `exceptiongroup; python_version < "3.11"` is skipped on 3.11) and
    `extra == "x"` lines count only when extra x was asked for (`pyjwt[crypto]` pulls cryptography)."""
    found = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is not None and not any(marker.evaluate({"extra": e}) for e in (extras or {""})):
            continue
        found.append((requirement.name, frozenset(requirement.extras)))
    return found


def _closure(requirements: list[tuple[str, frozenset[str]]]) -> list[metadata.Distribution]:
    """The installed distributions needed by `requirements`, transitively, minus what the runtime has."""
    seen: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    pending = list(requirements)
    while pending:
        raw_name, extras = pending.pop()
        name = re.sub(r"[-_.]+", "-", raw_name).lower()
        if (name, extras) in done or name in RUNTIME_PROVIDED:
            continue
        done.add((name, extras))
        dist = seen.get(name) or metadata.distribution(name)
        seen[name] = dist
        pending.extend(_requirements(dist.requires or [], extras))
    return list(seen.values())


def build_layer(target: Path, source: Path = LAYER_SRC, package: str = "capi_writeback") -> list[str]:
    """Assemble the layer's `python/` dir (no bytecode); return its top-level package names."""
    python_dir = target / "python"
    python_dir.mkdir(parents=True)
    shutil.copytree(source / package, python_dir / package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    requirements = (source / "requirements.txt").read_text().splitlines()
    tops = {package}
    for dist in _closure(_requirements(requirements)):
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if not parts or parts[0].startswith("..") or parts[0] == "__pycache__" \
                    or "__pycache__" in parts or str(file).endswith(".pyc") or ".dist-info" in parts[0]:
                continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            destination = python_dir / Path(str(file))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
            tops.add(parts[0].removesuffix(".py"))
    return sorted(tops)


def _lambda_env(layer_python: Path, function_dir: Path | None,
                extra_layers: tuple[Path, ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "POWERTOOLS_"))}
    path = [str(layer_python), *map(str, extra_layers)] + ([str(function_dir)] if function_dir else [])
    env.update({
        "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "capi-writeback", "POWERTOOLS_METRICS_NAMESPACE": "CapiWriteback",
        "WORKSPACES_TABLE": "w", "TOKENS_TABLE": "t", "PROFILES_TABLE": "p", "CONVERSIONS_TABLE": "c",
        "IDEMPOTENCY_TABLE": "i", "BREAKER_TABLE": "b", "AUDIT_TABLE": "a",
    })
    return env


def sample(module: str, layer_python: Path, tops: list[str], function_dir: Path | None,
           extra_layers: tuple[Path, ...] = ()) -> float:
    """CPU seconds to import `module` in a brand-new interpreter (fails if a layer package leaks in
    from elsewhere, e.g. the virtualenv's precompiled copy). All layers live under one temp dir."""
    code = PROBE.format(module=module, layer=str(layer_python.parent.parent), layer_packages=tuple(tops))
    result = subprocess.run([sys.executable, "-c", code],
                            env=_lambda_env(layer_python, function_dir, extra_layers),
                            cwd=str(function_dir or layer_python), capture_output=True, text=True,
                            check=False, timeout=120)
    out = result.stdout.strip().splitlines()
    if result.returncode != 0 or not out or out[-1].startswith("LEAK"):
        raise RuntimeError(f"import {module} failed: {(out[-1:] or [''])[0]} {result.stderr[-800:]}")
    return float(out[-1])


def measure(layer_python: Path, tops: list[str], handlers: list[str], runs: int,
            mcp_layer: Path) -> dict[str, list[float]]:
    """Interleaved rounds: boto3, then every handler, `runs` times (the MCP layer for mcp only)."""
    samples: dict[str, list[float]] = {"boto3": [], **{h: [] for h in handlers}}
    for _ in range(runs):
        samples["boto3"].append(sample("boto3", layer_python, tops, None))
        for handler in handlers:
            extra = (mcp_layer,) if handler == MCP_HANDLER else ()
            samples[handler].append(sample("app", layer_python, tops, FUNCTIONS / handler, extra))
    return samples


def _megabytes(directory: Path) -> float:
    return round(sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6, 1)


def _report(variant: str, samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    floor = statistics.median(samples["boto3"])
    print(f"-- layer {variant}: median CPU ms (import boto3 = {floor * 1000:.0f} ms; goal <= {GOAL}x)")
    rows: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / floor
        rows[name] = {"median_ms": round(median * 1000, 1), "ratio": round(ratio, 2)}
        if name != "boto3":
            verdict = "(own layer; not held to the goal)" if name == MCP_HANDLER else (
                "ok" if ratio <= GOAL else "OVER")
            print(f"   {name:<14} {median * 1000:7.0f} ms   {ratio:5.2f}x  {verdict}")
    return rows


def main() -> None:
    runs = int(os.environ.get("BENCH_COLDSTART_RUNS", "7"))
    handlers = sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))
    variants: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="cwb-layer-") as tmp:
        layer = Path(tmp) / "shared"
        tops = build_layer(layer)
        tops += build_layer(Path(tmp) / "mcp", MCP_LAYER_SRC, "capi_writeback_mcp")
        python_dir, mcp_python = layer / "python", Path(tmp) / "mcp" / "python"
        sizes = {"shared_layer_mb": _megabytes(python_dir), "mcp_layer_mb": _megabytes(mcp_python)}
        print(f"-- layer sizes (unzipped, source only): shared {sizes['shared_layer_mb']} MB, "
              f"mcp {sizes['mcp_layer_mb']} MB")
        variants["source"] = _report("source (as sam build ships it)",
                                     measure(python_dir, sorted(set(tops)), handlers, runs, mcp_python))
        for directory in (python_dir, mcp_python):
            compileall.compile_dir(str(directory), quiet=1, workers=1,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        variants["precompiled"] = _report("precompiled (compileall, unchecked-hash)",
                                          measure(python_dir, sorted(set(tops)), handlers, runs, mcp_python))
    worst = {v: max(r["ratio"] for k, r in rows.items() if k not in ("boto3", MCP_HANDLER))
             for v, rows in variants.items()}
    results: dict[str, object] = {"runs": runs, "goal_ratio": GOAL, **variants, "worst_ratio": worst,
                                  **sizes}
    print(f"worst handler ratio: source {worst['source']:.2f}x, precompiled {worst['precompiled']:.2f}x "
          f"(goal <= {GOAL}x)")
    mcp = {v: rows[MCP_HANDLER]["ratio"] for v, rows in variants.items() if MCP_HANDLER in rows}
    if mcp:
        print(f"mcp handler (own layer): source {mcp['source']:.2f}x, precompiled {mcp['precompiled']:.2f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

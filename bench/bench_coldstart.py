"""Cold start: import time of each handler module in a fresh interpreter vs `import boto3` alone.

Lambda imports the handler module on every cold start, and /opt is read-only, so Python cannot
cache the bytecode of a layer that ships none. This bench measures the layer as `sam build` builds
it: it runs the layer's own recipe (`make -C layers/capi_writeback build-CapiWritebackLayer`, the
target SAM runs for `BuildMethod: makefile`) into a temporary ARTIFACTS_DIR, with this machine's
wheel platform instead of arm64 (an aarch64 pydantic_core cannot be imported here); it needs PyPI,
as `sam build` does. Each sample is a new interpreter with `PYTHONDONTWRITEBYTECODE=1`, the layer
and the function folder first on the path, and Lambda-like environment variables; it times
`import app` (the handler module) or `import boto3`. Baseline and handlers are sampled in
interleaved rounds so drift hits both, and the time taken is the child's CPU time
(`time.process_time`), which, unlike wall time, does not grow when other processes compete for
the cores (these machines are shared).

Two variants of the layer are measured in the same run:
- `built`: as the recipe (and so `sam build`) ships it, with `unchecked-hash` bytecode;
- `source`: the same layer with its bytecode removed (what a layer built without it ships: every
  cold start compiles the layer's Python), for comparison.
Goal: every handler's median import time <= 1.6 x the median `import boto3`, as built.

The MCP function (`functions/mcp`) also has a layer of its own (`layers/mcp`: the MCP SDK, Mangum),
built by its own recipe the same way; only its samples have that layer on the path, as only it has it
on Lambda, so another handler that imported the SDK would fail here. Its figure is reported apart from
the goal (the SDK's import is the price of MCP, paid by that function alone), with both layers' sizes.

Env knobs: BENCH_COLDSTART_RUNS (samples per measurement, default 7).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"shared": (ROOT / "layers" / "capi_writeback", "build-CapiWritebackLayer"),
          "mcp": (ROOT / "layers" / "mcp", "build-McpLayer")}
MCP_HANDLER = "mcp"
FUNCTIONS = ROOT / "functions"
RESULTS = ROOT / "bench" / "results" / "coldstart.json"
GOAL = 1.6
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


def build_layer(name: str, target: Path) -> list[str]:
    """Run layer `name`'s build recipe into `target` (its ARTIFACTS_DIR); return the layer's top-level
    package names."""
    source, recipe = LAYERS[name]
    platform_tag = f"manylinux2014_{platform.machine()}"
    subprocess.run(["make", "--no-print-directory", "-C", str(source), recipe,
                    f"ARTIFACTS_DIR={target}", f"LAYER_PYTHON={sys.executable}",
                    f"LAYER_PLATFORM={platform_tag}"],
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    python_dir = target / "python"
    return sorted(p.name.removesuffix(".py") for p in python_dir.iterdir()
                  if p.name not in ("__pycache__", "bin") and not p.name.endswith((".dist-info", ".data")))


def strip_bytecode(python_dir: Path) -> None:
    for cache in list(python_dir.rglob("__pycache__")):
        shutil.rmtree(cache)


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
        tops = sorted({*build_layer("shared", Path(tmp) / "shared"), *build_layer("mcp", Path(tmp) / "mcp")})
        python_dir, mcp_python = Path(tmp) / "shared" / "python", Path(tmp) / "mcp" / "python"
        for directory, package in ((python_dir, "capi_writeback"), (mcp_python, "capi_writeback_mcp")):
            if not (directory / package / "__pycache__").is_dir():
                raise RuntimeError(f"the {package} layer's build shipped no bytecode")
        sizes = {"shared_layer_mb": _megabytes(python_dir), "mcp_layer_mb": _megabytes(mcp_python)}
        print(f"-- layer sizes (unzipped, as built): shared {sizes['shared_layer_mb']} MB, "
              f"mcp {sizes['mcp_layer_mb']} MB")
        variants["built"] = _report("as built (the recipe sam build runs: unchecked-hash bytecode)",
                                    measure(python_dir, tops, handlers, runs, mcp_python))
        for directory in (python_dir, mcp_python):
            strip_bytecode(directory)
        variants["source"] = _report("without bytecode (for comparison)",
                                     measure(python_dir, tops, handlers, runs, mcp_python))
    worst = {v: max(r["ratio"] for k, r in rows.items() if k not in ("boto3", MCP_HANDLER))
             for v, rows in variants.items()}
    results: dict[str, object] = {"runs": runs, "goal_ratio": GOAL, **variants, "worst_ratio": worst,
                                  **sizes, "load_average_1m": round(os.getloadavg()[0], 2)}
    print(f"worst handler ratio: as built {worst['built']:.2f}x, without bytecode {worst['source']:.2f}x "
          f"(goal <= {GOAL}x as built); load average {os.getloadavg()[0]:.2f}")
    mcp = {v: rows[MCP_HANDLER]["ratio"] for v, rows in variants.items() if MCP_HANDLER in rows}
    if mcp:
        print(f"mcp handler (own layer): as built {mcp['built']:.2f}x, without bytecode {mcp['source']:.2f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

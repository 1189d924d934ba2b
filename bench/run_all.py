"""``make bench``: run every benchmark script and print each SPEC §15 figure beside its target.

Contract for a script here: it accepts ``--json`` and prints one JSON object as the last line
of stdout: ``{"name", "figures", "target", "ratio", "ok"}``, optionally ``"rows"`` (a list of
``{"figure", "measured", "target", "ok"}`` when it measures several figures). Scripts
without ``--json`` in their source are listed as skipped. A script that crashes or prints no
JSON becomes a row with ``ok = False`` and the tail of its stderr, so one broken benchmark
never hides the others. Results go to ``bench/results/bench_results.json`` as well.

Every figure is a ratio or a bound measured in the same run, because these machines are noisy;
this script only collects and prints. It exits 0.

Example:
    .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py --only health,cycle --soak-cycles 288
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "bench_results.json"
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h still works, as before


def scripts() -> list[Path]:
    return sorted(p for p in BENCH_DIR.glob("*.py") if p.name != Path(__file__).name)


def supports_json(path: Path) -> bool:
    return '"--json"' in path.read_text(encoding="utf-8")


def _python() -> str:
    venv = PROJECT_ROOT / ".venv" / "bin" / "python"
    return str(venv if venv.exists() else Path(sys.executable))


def run_one(path: Path, extra: list[str], timeout: float) -> dict[str, Any]:
    """Run one script with --json; its JSON object, or a failure record."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [_python(), str(path), "--json", *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=PROJECT_ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"name": path.stem, "ok": False, "error": f"timed out after {timeout:.0f} s"}
    seconds = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
        if not isinstance(result, dict):
            raise ValueError("not an object")
    except (IndexError, ValueError):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {
            "name": path.stem,
            "ok": False,
            "error": f"exit {done.returncode}, no JSON on stdout: {tail[:300]}",
            "seconds": round(seconds, 1),
        }
    result["seconds"] = round(seconds, 1)
    return result


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The printable rows of one script's result."""
    if "error" in result:
        return [{"figure": result["name"], "measured": result["error"], "target": "-", "ok": False}]
    if isinstance(result.get("rows"), list) and result["rows"]:
        return list(result["rows"])
    ratio = result.get("ratio")
    if ratio is not None:
        measured = f"{ratio:g}x"
    else:
        figures = result.get("figures") or {}
        shown = [f"{k}={v}" for k, v in figures.items() if isinstance(v, int | float)][:2]
        measured = ", ".join(shown) or "-"
    target = result.get("target")
    target_text = f">= {target:g}x" if isinstance(target, int | float) else str(target)
    return [
        {
            "figure": result.get("name", "?"),
            "measured": measured,
            "target": target_text,
            "ok": bool(result.get("ok")),
        }
    ]


def _cut(value: Any, width: int = 90) -> str:
    """One table cell: long error texts are cut (the JSON file keeps them whole)."""
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ("figure", "measured", "target", "ok")
    cells = [
        [_cut(r["figure"]), _cut(r["measured"]), _cut(r["target"]), "ok" if r["ok"] else "MISSED"]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for c in cells:
        print(" | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--only", help="comma-separated script names (e.g. health,cycle)")
@click.option("--soak-cycles", type=int, help="pass --cycles to bench_soak.py")
@click.option("--timeout", type=float, default=3600.0, help="seconds per script")
def main(only: str | None, soak_cycles: int | None, timeout: float) -> None:
    wanted = {n.strip().removeprefix("bench_") for n in only.split(",")} if only else None
    known = {path.stem.removeprefix("bench_") for path in scripts()}
    if wanted is not None and not wanted <= known:
        unknown = ", ".join(sorted(wanted - known))
        raise click.BadParameter(f"no bench script {unknown}; known: {', '.join(sorted(known))}")

    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for path in scripts():
        short = path.stem.removeprefix("bench_")
        if wanted is not None and short not in wanted:
            continue
        if not supports_json(path):
            rows.append(
                {"figure": path.stem, "measured": "no --json: skipped", "target": "-", "ok": False}
            )
            continue
        extra = ["--cycles", str(soak_cycles)] if short == "soak" and soak_cycles else []
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        result = run_one(path, extra, timeout)
        results.append(result)
        rows.extend(table_rows(result))

    print_table(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"results": results, "table": rows}, indent=2, default=str) + "\n"
    )
    missed = sum(1 for r in rows if not r["ok"])
    print(f"\n{len(rows)} figures, {missed} missed; details in {RESULTS.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()

"""View latency of this expctl against another source tree of it (e.g. before a refactoring).

    git archive REV expctl | tar -x -C /tmp/old_expctl
    uv run python benchmarks/bench_views_ab.py --old /tmp/old_expctl [--repeats 9]

Both trees run in this environment (the old one first on PYTHONPATH), as fresh processes, on the
same inputs: `expctl --help`, `expctl roc` and `roc --hep --working-points` on a run with
1,000,000 test predictions (bench_roc's), `expctl compare` over 1,000 run directories
(bench_compare's), `expctl list` and `expctl show`. The two trees alternate within each repeat,
so machine noise hits both alike; prints median wall times and their ratio (new / old).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import write_runs
from bench_roc import make_run


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall time of one process; `cwd` is outside both trees (`python -m` puts it first on
    sys.path, ahead of PYTHONPATH)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=cwd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", type=Path, required=True, help="folder holding the old expctl/")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--only", help="time only the commands whose name contains this")
    args = parser.parse_args()
    if not (args.old / "expctl" / "__init__.py").is_file():
        parser.error(f"{args.old}: no expctl/ package in it")
    new_env = dict(os.environ)
    old_env = {
        **new_env,
        "PYTHONPATH": os.pathsep.join(
            [str(args.old.resolve()), *filter(None, [new_env.get("PYTHONPATH")])]
        ),
    }
    expctl = [sys.executable, "-m", "expctl"]
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp) / "roc")
        runs = Path(tmp) / "runs"
        write_runs(runs, 1000, random.Random(0))
        one = sorted(runs.iterdir())[0]
        for side, env in (("old", old_env), ("new", new_env)):  # each side runs its own tree
            where = subprocess.run(
                [sys.executable, "-c", "import expctl; print(expctl.__file__)"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
                cwd=tmp,
            ).stdout.strip()
            print(f"{side}: {where}")
        cases = {
            "expctl --help": [*expctl, "--help"],
            "roc (1M predictions)": [*expctl, "roc", str(run), "--out", str(Path(tmp) / "r.png")],
            "roc --hep --working-points": [
                *expctl,
                "roc",
                str(run),
                "--hep",
                "--working-points",
                "0.5,0.7,0.9",
                "--out",
                str(Path(tmp) / "h.png"),
            ],
            "compare (1,000 runs)": [*expctl, "compare", str(runs)],
            "compare --no-group --json": [*expctl, "compare", str(runs), "--no-group", "--json"],
            "list (1,000 runs)": [*expctl, "list", str(runs)],
            "show": [*expctl, "show", str(one)],
        }
        cases = {k: v for k, v in cases.items() if args.only is None or args.only in k}
        times: dict[str, dict[str, list[float]]] = {c: {"old": [], "new": []} for c in cases}
        for cmd in cases.values():  # warm-up: file caches, bytecode
            timed(cmd, old_env, Path(tmp))
            timed(cmd, new_env, Path(tmp))
        for i in range(args.repeats):
            for name, cmd in cases.items():
                order = [("old", old_env), ("new", new_env)]
                for side, env in order if i % 2 == 0 else order[::-1]:
                    times[name][side].append(timed(cmd, env, Path(tmp)))
    print("| command | old median (s) | new median (s) | new / old |\n|---|---|---|---|")
    for name, sides in times.items():
        old, new = statistics.median(sides["old"]), statistics.median(sides["new"])
        print(f"| {name} | {old:.3f} | {new:.3f} | {new / old:.2f} |")


if __name__ == "__main__":
    main()

"""`expctl sweep` (2 workers) against KerasTuner's RandomSearch, and TPE against random search.

Run with:  uv run --group bench python benchmarks/bench_sweep.py [--n-samples 10000] [--epochs 8]

1. The same 16-trial random search (same space, model builder, data split, epochs, batch size) with
   `expctl sweep --workers 2` and with keras_tuner.RandomSearch (one process, as it runs by default).
   Interleaved, each a fresh process, `--repeats` times (default 3); prints the median wall times,
   their ratio (goal: expctl <= 0.6x) and both best validation AUCs (goal:
   within 0.01). The AUCs are compared on one definition: val_auc at the epoch of lowest val_loss
   (expctl's objective); KerasTuner's own score (the best val_auc of any epoch, a little optimistic)
   is printed too. Where expctl's time goes is printed from its run directories.
2. How many trials TPE (method bayes) needs to reach random search's best-of-16, for 3 seeds (median).

With `--storage postgresql://USER@HOST:PORT/DB` (or `--start-server`: a throw-away local server,
tests/pgserver.py) it measures instead the same 16-trial random search on one host vs two hosts
sharing the study: two `expctl sweep` processes (one worker each, own output folders) on the same
study, each timed run a fresh study (deleted afterwards); interleaved repeats, medians, the ratio.
Both "hosts" are processes of this machine: they share its cores, so the gain is bounded by the
cores, not by the coordination. `--pin` gives each host a core of its own (taskset) and the
one-host run one core: two 1-core machines against one.

    uv run python benchmarks/bench_sweep.py --start-server --n-samples 4000 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from expctl.masking import mask

ROOT = Path(__file__).resolve().parents[1]

SPACE = {
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "train.optimizer.learning_rate": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True},
    "model.hidden": {"type": "choice", "values": [[32, 32], [64, 64], [128, 64, 32]]},
}


def base_spec(n_samples: int, epochs: int) -> dict[str, Any]:
    return {
        "name": "bench",
        "seed": 0,
        "data": {"source": "jets", "n_samples": n_samples},
        "model": {"type": "mlp", "hidden": [64, 64]},
        "train": {"optimizer": {"name": "adam"}, "batch_size": 256, "epochs": epochs},
    }


def sweep_spec(n_samples: int, epochs: int, method: str, trials: int, seed: int) -> dict[str, Any]:
    sweep = {
        "method": method,
        "trials": trials,
        "metric": "val_auc",
        "direction": "maximize",
        "seed": seed,
        "space": SPACE,
    }
    return {**base_spec(n_samples, epochs), "sweep": sweep}


def run_expctl(spec: dict[str, Any], root: Path, name: str, workers: int) -> tuple[float, Path]:
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = root / "out"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "expctl", "sweep", str(path), "--workers", str(workers),
         "--output-dir", str(out), "--study", name, "-q"],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started, out / name


def run_kerastuner(n_samples: int, epochs: int, trials: int, root: Path) -> dict[str, Any]:
    """RandomSearch over the same space; models built and compiled as expctl builds them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    started = time.perf_counter()
    import keras
    import keras_tuner as kt

    from expctl.data import prepare
    from expctl.models import build_model
    from expctl.models.build import HEADS
    from expctl.models.regularizers import make_loss
    from expctl.spec import spec_from_dict
    from expctl.sweep.space import apply
    from expctl.training.fit import steps_per_execution

    base = base_spec(n_samples, epochs)
    spec = spec_from_dict(base)
    dataset = prepare(spec.data, ROOT, spec.seed)
    choices = SPACE["model.hidden"]["values"]

    def build(hp: Any) -> Any:
        params = {
            "model.dropout": hp.Float("dropout", 0.0, 0.5),
            "train.optimizer.learning_rate": hp.Float("lr", 1e-4, 1e-1, sampling="log"),
            "model.hidden": choices[hp.Choice("hidden", list(range(len(choices))))],
        }
        trial = spec_from_dict(apply(base, params))
        model = build_model(trial.model, dataset)
        model.compile(
            optimizer=keras.optimizers.Adam(trial.train.optimizer.learning_rate),
            loss=make_loss("binary"),
            metrics=HEADS["binary"].metrics(),
            steps_per_execution=steps_per_execution(len(dataset.train), spec.train.batch_size),
        )
        return model

    tuner = kt.RandomSearch(
        build,
        objective=kt.Objective("val_auc", direction="max"),
        max_trials=trials,
        seed=0,
        directory=str(root / "kt"),
        project_name="bench",
        overwrite=True,
    )
    # KerasTuner imports tensorboard for every trial only to patch a TensorBoard callback into
    # place; none is passed here, so skip it rather than install tensorboard
    tuner._configure_tensorboard_dir = lambda *args, **kwargs: None
    tuner.search(
        dataset.train.x,
        dataset.train.y,
        validation_data=(dataset.val.x, dataset.val.y),
        epochs=epochs,
        batch_size=spec.train.batch_size,
        verbose=0,
    )
    wall = time.perf_counter() - started
    at_best_loss, own = [], []
    for trial in tuner.oracle.trials.values():
        # one observation per epoch; its value is a list with one entry per execution (1 here)
        auc = [statistics.fmean(o.value) for o in trial.metrics.get_history("val_auc")]
        loss = [statistics.fmean(o.value) for o in trial.metrics.get_history("val_loss")]
        if auc and loss:
            at_best_loss.append(auc[loss.index(min(loss))])
            own.append(max(auc))
    return {"wall": wall, "best": max(at_best_loss), "best_own": max(own), "n": len(own)}


def expctl_breakdown(sweep_dir: Path) -> dict[str, float]:
    """Per trial: wall time of the run, of which fitting (sum of epoch times); the rest is setup,
    evaluation on the test split, plots and saving."""
    table = pd.read_csv(sweep_dir / "sweep.csv")
    fit, total = [], []
    for run in table["run"].dropna():
        run_dir = sweep_dir / "trials" / run
        status = json.loads((run_dir / "status.json").read_text())
        history = pd.read_csv(run_dir / "history.csv")
        total.append(status["duration_s"])
        fit.append(history["epoch_time_s"].sum())
    return {
        "trial_s": statistics.fmean(table["duration_s"]),
        "run_s": statistics.fmean(total),
        "fit_s": statistics.fmean(fit),
    }


def trials_to_reach(table: pd.DataFrame, target: float) -> int | None:
    done = table[table["state"] == "COMPLETE"].sort_values("trial")
    reached = done[done["value"] >= target]
    return None if reached.empty else int(reached["trial"].iloc[0]) + 1


def run_hosts(
    spec: dict[str, Any], root: Path, study: str, url: str, hosts: int, pin: bool
) -> dict[str, Any]:
    """Wall time of `hosts` `expctl sweep` processes sharing `study` on `url` (started together,
    each with its own output folder), the study's trial states and how many each host trained."""
    import optuna

    path = root / f"{study}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    folders = [root / study / f"host-{h}" for h in range(hosts)]
    logs = [root / study / f"host-{h}.log" for h in range(hosts)]
    (root / study).mkdir(parents=True)
    procs = []
    started = time.perf_counter()
    for h in range(hosts):
        argv = [sys.executable, "-m", "expctl", "sweep", str(path), "--storage", url,
                "--study", study, "--output-dir", str(folders[h]), "-q"]  # fmt: skip
        if pin:  # a core of its own: host h on core h
            argv = ["taskset", "-c", str(h % (os.cpu_count() or 1)), *argv]
        with open(logs[h], "wb") as log:
            procs.append(subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    codes = [proc.wait() for proc in procs]
    wall = time.perf_counter() - started
    if any(codes):
        failed = [h for h, code in enumerate(codes) if code]
        raise SystemExit(
            f"host {failed[0]} of {study} exited {codes[failed[0]]}:\n"
            + mask(logs[failed[0]].read_text())
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    optuna.delete_study(study_name=study, storage=url)
    return {
        "wall": wall,
        "complete": states.count("COMPLETE"),
        "trials": len(states),
        "per_host": [len(list((f / study / "trials").iterdir())) for f in folders],
    }


def bench_hosts(args: argparse.Namespace, url: str, root: Path) -> None:
    """One host vs two hosts on one study: interleaved repeats, medians and their ratio."""
    n, epochs, trials = args.n_samples, args.epochs, args.trials
    spec = sweep_spec(n, epochs, "random", trials, 0)
    print(f"jets n_samples={n}, {epochs} epochs, batch 256, {trials}-trial random search")
    print(
        f"storage {mask(url)}; machine: {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.2f}); "
        + ("pinned: each host on a core of its own" if args.pin else "hosts share all cores")
    )
    tag = time.strftime("%H%M%S")
    walls: dict[int, list[float]] = {1: [], 2: []}
    for i in range(args.repeats):
        order = (1, 2) if i % 2 == 0 else (2, 1)  # interleaved, alternating which goes first
        for hosts in order:
            got = run_hosts(spec, root, f"bench-{tag}-{i}-{hosts}h", url, hosts, args.pin)
            walls[hosts].append(got["wall"])
            split = " + ".join(str(k) for k in got["per_host"])
            print(
                f"repeat {i + 1}: {hosts} host{'s' if hosts > 1 else ' '} {got['wall']:7.1f} s  "
                f"{got['complete']} COMPLETE of {got['trials']} trials (trained per host: {split}), "
                f"{got['wall'] / max(1, got['complete']):.2f} s per trial"
            )
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    print(
        f"median of {args.repeats}: 1 host {one:.1f} s, 2 hosts {two:.1f} s; "
        f"speed-up 1 host / 2 hosts = {one / two:.2f} (2.00 would be perfect scaling); "
        f"load average now {os.getloadavg()[0]:.2f}"
    )
    if not args.pin:
        print(
            "  (both hosts are processes of this machine sharing its cores: the speed-up is "
            "bounded by the cores, not by the study's coordination; --pin compares 1-core hosts)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--tpe-max-trials", type=int, default=32)
    parser.add_argument("--skip-kerastuner", action="store_true")
    parser.add_argument("--skip-tpe", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna RDB URL (postgresql://...): time 1 host vs 2 hosts sharing a study instead",
    )
    parser.add_argument(
        "--start-server",
        action="store_true",
        help="as --storage, on a throw-away local PostgreSQL server (tests/pgserver.py)",
    )
    parser.add_argument(
        "--pin", action="store_true", help="with --storage: each host on a core of its own"
    )
    parser.add_argument("--kerastuner-child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kerastuner_child:
        result = run_kerastuner(
            args.n_samples, args.epochs, args.trials, Path(args.kerastuner_child)
        )
        print(json.dumps(result))
        return
    if args.storage and args.start_server:
        parser.error("--storage and --start-server exclude each other")
    if args.pin and not (args.storage or args.start_server):
        parser.error("--pin goes with --storage or --start-server")
    if args.pin and shutil.which("taskset") is None:
        parser.error("--pin needs taskset (util-linux)")
    root = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    if args.start_server:
        sys.path.insert(0, str(ROOT / "tests"))
        import pgserver

        reason = pgserver.reason_unavailable()
        if reason:
            parser.error(f"--start-server: {reason}")
        server = pgserver.start_server()
        try:
            bench_hosts(args, server.url(), root)
        finally:
            server.stop()
        print(f"(outputs in {root})")
        return
    if args.storage:
        bench_hosts(args, args.storage, root)
        print(f"(outputs in {root})")
        return
    n, epochs, trials = args.n_samples, args.epochs, args.trials
    print(f"jets n_samples={n}, {epochs} epochs, batch 256, {trials}-trial random search")
    print(f"machine: {os.cpu_count()} cores (load average {os.getloadavg()[0]:.2f})")

    walls, kt_walls, bests, kt_bests = [], [], [], []
    for i in range(args.repeats):  # interleaved, so machine load hits both alike
        wall, sweep_dir = run_expctl(
            sweep_spec(n, epochs, "random", trials, 0), root, f"random{i}", 2
        )
        table = pd.read_csv(sweep_dir / "sweep.csv")
        walls.append(wall)
        bests.append(float(table["value"].max()))
        parts = expctl_breakdown(sweep_dir)
        print(f"expctl sweep --workers 2: {wall:7.1f} s  best val_auc {bests[-1]:.4f}")
        print(
            f"  per trial {parts['trial_s']:.2f} s (run {parts['run_s']:.2f} s, of which fit "
            f"{parts['fit_s']:.2f} s; the rest: data, model, test evaluation, saving)"
        )
        if args.skip_kerastuner:
            continue
        # a fresh process, as expctl's: its wall time includes importing TensorFlow
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--kerastuner-child", str(root / f"kt{i}"),
             "--n-samples", str(n), "--epochs", str(epochs), "--trials", str(trials)],
            check=True, cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        kt_walls.append(time.perf_counter() - started)
        kt = json.loads(child.stdout.strip().splitlines()[-1])
        kt_bests.append(kt["best"])
        print(
            f"KerasTuner RandomSearch:  {kt_walls[-1]:7.1f} s  best val_auc {kt['best']:.4f} "
            f"(at lowest val_loss; its own score, best epoch by val_auc: {kt['best_own']:.4f})"
        )
    best_random = bests[0]
    if kt_walls:
        ratio = statistics.median(walls) / statistics.median(kt_walls)
        diff = statistics.median(bests) - statistics.median(kt_bests)
        print(
            f"median of {args.repeats}: expctl {statistics.median(walls):.1f} s, KerasTuner "
            f"{statistics.median(kt_walls):.1f} s; all: expctl "
            + ", ".join(f"{w:.1f}" for w in walls)
            + "; KerasTuner "
            + ", ".join(f"{w:.1f}" for w in kt_walls)
        )
        print(f"wall-time ratio expctl/KerasTuner (medians): {ratio:.2f} (goal <= 0.6)")
        print(f"best val_auc difference expctl - KerasTuner: {diff:+.4f} (goal |diff| <= 0.01)")
    if not args.skip_tpe:
        needed = []
        for seed in (0, 1, 2):
            spec = sweep_spec(n, epochs, "bayes", args.tpe_max_trials, seed)
            _, tpe_dir = run_expctl(spec, root, f"tpe{seed}", 2)
            k = trials_to_reach(pd.read_csv(tpe_dir / "sweep.csv"), best_random)
            needed.append(k if k is not None else args.tpe_max_trials + 1)
            shown = k if k is not None else f">{args.tpe_max_trials}"
            print(
                f"TPE seed {seed}: reaches random's best-of-{trials} ({best_random:.4f}) at trial {shown}"
            )
        print(f"TPE trials to reach random's best-of-{trials}: median {statistics.median(needed)}")
    print(f"(outputs in {root})")


if __name__ == "__main__":
    main()

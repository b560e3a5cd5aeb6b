"""Run the lecture's studies (experiments/lecture/<study>/) end to end and report wall times.

    uv run python experiments/lecture/run_studies.py [STUDY ...] [--output-dir outputs/lecture]

Each study trains its specs through the expctl CLI (one subprocess per command, exactly the
commands a user would type, echoed as they run), compares them with `expctl compare`, and draws
the figures the tutorial (docs/tutorial.md) shows into docs/tutorial/. A study's outputs go to
<output-dir>/<study>/ (replaced when the study runs again): the run directories under runs/,
summary.md (its tables) and the figures. The wall time of each study is printed at the end and
written to <output-dir>/timings.json. MNIST needs mnist.npz in $EXPCTL_DATA_DIR (or Keras' cache).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIGURES = ROOT / "docs" / "tutorial"
DPI = 100  # the tutorial's PNGs stay well under 150 KB


# ------------------------------------------------------------------------------------ helpers


#: --redraw: draw the figures and tables again from the runs already there, train nothing.
REDRAW = False


def expctl(*args: object, capture: bool = False, allowed: Sequence[int] = (0,)) -> str:
    """Run `expctl ARGS` in this interpreter's environment; stop unless its exit code is allowed.

    With --redraw, the commands that train (run, sweep, biasvar) are skipped."""
    text = [str(a) for a in args]
    if REDRAW and text[0] in ("run", "sweep", "biasvar"):
        return ""
    print("$ expctl " + " ".join(text), flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "expctl", *text],
        text=True,
        stdout=subprocess.PIPE if capture else None,
        check=False,
    )
    if result.returncode not in allowed:
        raise SystemExit(f"expctl {' '.join(text)} exited with {result.returncode}")
    return result.stdout if capture else ""


def train(out: Path, spec: str, *sets: str, name: str | None = None, allowed=(0,)) -> None:
    """`expctl run` one spec of the study (with --set overrides) into <out>/runs."""
    args: list[object] = ["run", HERE / spec, "-q", "--output-dir", out / "runs"]
    for s in sets:
        args += ["--set", s]
    if name:
        args += ["--name", name]
    expctl(*args, allowed=allowed)


def runs(out: Path) -> dict[str, Path]:
    """The study's run directories by spec name."""
    found = {}
    for path in sorted((out / "runs").iterdir()):
        if (path / "spec.yaml").is_file():
            found[yaml.safe_load((path / "spec.yaml").read_text())["name"]] = path
    return found


def metrics(run: Path) -> dict[str, Any]:
    path = run / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def history(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "history.csv")


def status(run: Path) -> str:
    return json.loads((run / "status.json").read_text())["status"]


def fmt(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return (
            f"{value:.{digits}g}"
            if abs(value) >= 1e4 or abs(value) < 1e-3
            else f"{value:.{digits}f}"
        )
    return "—" if value is None else str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def figure(width: float, height: float, ncols: int = 1) -> tuple[Any, list[Any]]:
    from expctl.plots.learning_curves import new_figure

    fig = new_figure(width, height)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def save(fig: Any, name: str, out: Path) -> None:
    """Save a figure into the study's output folder and into docs/tutorial/."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, dpi=DPI)
    shutil.copyfile(out / name, FIGURES / name)


def copy_figure(source: Path, name: str) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, FIGURES / name)


def compare_plot(out: Path, plot: str, name: str, *extra: str) -> None:
    """`expctl compare <out>/runs --plot PLOT` into the study folder and docs/tutorial/."""
    expctl("compare", out / "runs", "--plot", plot, *extra, "--out", out / name, capture=True)
    copy_figure(out / name, name)


# ------------------------------------------------------------------------------------ studies


def dropout(out: Path) -> str:
    for spec in ("no_dropout", "dropout"):
        train(out, f"dropout/{spec}.yaml")
    found = runs(out)
    fig, (ax,) = figure(6.4, 4.0)
    rows = []
    for i, name in enumerate(("no_dropout", "dropout")):
        h, m = history(found[name]), metrics(found[name])
        ax.plot(h["epoch"], h["loss"], "-", color=f"C{i}", label=f"{name}: training")
        ax.plot(h["epoch"], h["val_loss"], "--", color=f"C{i}", label=f"{name}: validation")
        best = int(h["val_loss"].idxmin())
        rows.append(
            [
                name,
                h["loss"].iloc[-1],
                h["val_loss"].iloc[-1],
                h["val_loss"].min(),
                int(h["epoch"][best]),
                m["loss"],
                m["auc"],
            ]
        )
    ax.set(xlabel="epoch", ylabel="loss (binary cross-entropy)", title="1,000 training events")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, "dropout_curves.png", out)
    return table(
        [
            "run",
            "final train loss",
            "final val loss",
            "min val loss",
            "at epoch",
            "test loss",
            "test AUC",
        ],
        rows,
    )


L2_SCAN = (1e-5, 1e-4, 1e-3, 1e-2)


def regularisation(out: Path) -> str:
    train(out, "regularisation/none.yaml")
    for alpha in L2_SCAN:
        train(out, "regularisation/none.yaml", f"model.l2={alpha}", name=f"l2_{alpha:g}")
    for spec in ("l2_per_layer", "weight_clip", "input_noise", "weight_noise"):
        train(out, f"regularisation/{spec}.yaml")
    found = runs(out)
    rows = []
    for name, run in found.items():
        h, m = history(run), metrics(run)
        rows.append(
            [
                name,
                m["loss"],
                m["auc"],
                h["loss"].iloc[-1],
                h["val_loss"].iloc[-1],
                h["val_loss"].iloc[-1] - h["loss"].iloc[-1],
            ]
        )
    fig, (ax,) = figure(6.4, 3.6)
    ordered = sorted(rows, key=lambda r: r[1])
    ax.barh([r[0] for r in ordered], [r[1] for r in ordered], color="C0")
    ax.set(xlabel="test loss (binary cross-entropy)", xlim=(0.3, None))
    ax.invert_yaxis()
    ax.grid(alpha=0.3, axis="x")
    save(fig, "regularisation_test_loss.png", out)
    fig, axes = figure(8.0, 3.3, 2)
    names = ["none", *(f"l2_{a:g}" for a in L2_SCAN)]
    x = [1e-6, *L2_SCAN]  # α = 0 drawn at 1e-6 on the log axis
    for ax, key, label in zip(axes, ("loss", "auc"), ("test loss", "test AUC"), strict=True):
        ax.plot(x, [metrics(found[n])[key] for n in names], "o-")
        ax.set(xscale="log", xlabel="L2 α (α = 0 drawn at 1e-6)", ylabel=label)
        ax.grid(alpha=0.3)
    fig.suptitle("L2 α scan (both layers), 1,000 training events")
    save(fig, "regularisation_l2_scan.png", out)
    return table(
        ["run", "test loss", "test AUC", "final train loss", "final val loss", "val − train"],
        sorted(rows, key=lambda r: r[1]),
    )


def early_stopping(out: Path) -> str:
    specs = ("no_stopping", "patience_2", "patience_10", "min_delta")
    for spec in specs:
        train(out, f"early_stopping/{spec}.yaml")
    found = runs(out)
    fig, (ax,) = figure(6.4, 4.0)
    full = history(found["no_stopping"])
    ax.plot(full["epoch"], full["val_loss"], "-", color="0.6", label="val_loss, no stopping")
    ax.plot(full["epoch"], full["loss"], ":", color="0.6", label="loss, no stopping")
    rows = []
    for i, spec in enumerate(specs):
        m = metrics(found[spec])
        if m.get("stopped_epoch"):
            h = history(found[spec])
            ax.axvline(
                m["stopped_epoch"],
                color=f"C{i}",
                linestyle="--",
                label=f"{spec}: stop {m['stopped_epoch']}, best {m['best_epoch']}",
            )
            ax.plot(m["best_epoch"], h["val_loss"][m["best_epoch"] - 1], "o", color=f"C{i}")
        rows.append(
            [
                spec,
                m["best_epoch"],
                m.get("stopped_epoch"),
                m["epochs_trained"],
                m["loss"],
                m["auc"],
            ]
        )
    ax.set(xlabel="epoch", ylabel="loss", ylim=(0.2, 1.0))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, "early_stopping_overlay.png", out)
    copy_figure(
        found["patience_10"] / "plots" / "learning_curves.png", "early_stopping_patience_10.png"
    )
    return table(
        ["run", "best epoch", "stopped at", "epochs trained", "test loss", "test AUC"], rows
    )


def augmentation(out: Path) -> str:
    for spec in ("none", "small", "full_turn"):
        train(out, f"augmentation/{spec}.yaml")
    found = runs(out)
    rows = []
    for name, run in found.items():
        m = metrics(run)
        cm = np.asarray(m["confusion_matrix"])
        rows.append(
            [
                name,
                m["accuracy"],
                m["loss"],
                int(cm[6].sum()),
                int(cm[6, 9]),
                int(cm[9].sum()),
                int(cm[9, 6]),
                cm[6, 6] / cm[6].sum(),
                cm[9, 9] / cm[9].sum(),
            ]
        )
        if name != "aug_small":  # the tutorial shows the two extremes
            copy_figure(run / "plots" / "confusion.png", f"augmentation_confusion_{name}.png")
    return table(
        [
            "run",
            "test accuracy",
            "test loss",
            "true 6s",
            "6 called 9",
            "true 9s",
            "9 called 6",
            "recall of 6",
            "recall of 9",
        ],
        rows,
    )


def label_noise(out: Path) -> str:
    for spec in ("clean", "noisy", "noisy_smoothed", "noisy_random_smoothed"):
        train(out, f"label_noise/{spec}.yaml")
    found = runs(out)
    # (not the val_loss curves: with label smoothing Keras' val_loss is against smoothed targets)
    compare_plot(out, "roc", "label_noise_roc.png")
    rows = []
    for name, run in found.items():
        m = metrics(run)
        with np.load(run / "predictions.npz", allow_pickle=False) as npz:
            y, score = npz["y_true"], npz["y_score"]
        rows.append(
            [
                name,
                m["auc"],
                m["accuracy"],
                m["loss"],
                m["brier"],
                float(score[y == 1].mean()),
                float(score[y == 0].mean()),
            ]
        )
    return table(
        [
            "run",
            "test AUC",
            "test accuracy",
            "test loss",
            "Brier",
            "mean score, signal",
            "mean score, background",
        ],
        rows,
    )


def adversarial(out: Path) -> str:
    for spec in ("standard", "fgsm"):
        train(out, f"adversarial/{spec}.yaml")
    found = runs(out)
    fig, axes = figure(8.4, 3.4, 2)
    scans = {name: metrics(run)["robustness"] for name, run in found.items()}
    for i, (name, scan) in enumerate(scans.items()):
        eps = [p["epsilon"] for p in scan]
        for ax, key in zip(axes, ("auc", "accuracy"), strict=True):
            ax.plot(eps, [p[key] for p in scan], "o-", color=f"C{i}", label=name)
    for ax, key in zip(axes, ("test AUC", "test accuracy"), strict=True):
        ax.set(xlabel="FGSM ε (standard deviations of each input)", ylabel=key)
        ax.axvline(0.1, color="0.5", linestyle=":", label="ε of adversarial training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, "adversarial_robustness.png", out)
    epsilons = [p["epsilon"] for p in scans["standard"]]
    return table(
        ["run", *(f"AUC at ε={e:g}" for e in epsilons)],
        [[name, *(p["auc"] for p in scan)] for name, scan in scans.items()],
    )


def multitask(out: Path) -> str:
    from expctl.evaluation import auc_in_bins

    for spec in ("classification", "multitask"):
        train(out, f"multitask/{spec}.yaml")
    found = runs(out)
    preds = {}
    for name, run in found.items():
        with np.load(run / "predictions.npz", allow_pickle=False) as npz:
            preds[name] = {k: npz[k] for k in ("y_true_signal", "y_score_signal", "y_true_energy")}
    energy = preds["classification"]["y_true_energy"]
    edges = np.quantile(energy, np.linspace(0, 1, 6))  # 5 bins of equal population
    fig, (ax,) = figure(6.4, 4.0)
    bins = {}
    for i, (name, p) in enumerate(preds.items()):
        np.testing.assert_array_equal(p["y_true_energy"], energy)  # the same test events
        b = auc_in_bins(p["y_true_signal"], p["y_score_signal"], p["y_true_energy"], edges)
        bins[name] = b
        centres = np.sqrt([x["low"] * x["high"] for x in b]) * (1.0 + 0.02 * (i - 0.5))
        auc = np.array([x["auc"] for x in b])
        err = np.array([[x["auc"] - x["auc_low"], x["auc_high"] - x["auc"]] for x in b]).T
        ax.errorbar(centres, auc, yerr=err, fmt="o-", capsize=3, color=f"C{i}", label=name)
    for e in edges:
        ax.axvline(e, color="0.85", linewidth=0.8)
    ax.set(
        xscale="log",
        xlabel="jet energy (GeV), bins of equal population",
        ylabel="test AUC (68% interval)",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "multitask_auc_per_energy.png", out)
    header = [
        "run",
        "test AUC",
        "energy r²",
        *(f"AUC {x['low']:.0f}–{x['high']:.0f} GeV" for x in bins["classification"]),
    ]
    rows = []
    for name, run in found.items():
        m = metrics(run)
        rows.append([name, m["auc"], m["heads"]["energy"]["r2"], *(x["auc"] for x in bins[name])])
    return table(header, rows)


def optimizers(out: Path) -> str:
    specs = ("sgd", "sgd_momentum", "adagrad", "rmsprop", "adam")
    for spec in specs:
        train(out, f"optimizers/{spec}.yaml")
    found = runs(out)
    compare_plot(out, "learning_curves", "optimizers_val_loss.png")
    rows = []
    for spec in specs:
        h, m = history(found[spec]), metrics(found[spec])
        rows.append([spec, h["loss"].iloc[0], h["loss"].iloc[-1], h["val_loss"].min(), m["auc"]])
    return table(["optimizer", "loss epoch 1", "loss last epoch", "min val loss", "test AUC"], rows)


BATCH_SIZES = (1, 4, 16, 64, 256, 1024)


def batch_size(out: Path) -> str:
    for size in BATCH_SIZES:
        train(out, "batch_size/batch.yaml", f"train.batch_size={size}", name=f"batch_{size}")
    for size in BATCH_SIZES:
        train(
            out, "batch_size/converged.yaml", f"train.batch_size={size}", name=f"converged_{size}"
        )
    found = runs(out)
    fixed, converged = [], []
    for size in BATCH_SIZES:
        h, m = history(found[f"batch_{size}"]), metrics(found[f"batch_{size}"])
        per_epoch = float(h["epoch_time_s"].iloc[1:].median())  # epoch 1 includes tracing
        fixed.append(
            [
                size,
                math.ceil(1200 / size),
                per_epoch,
                h["loss"].iloc[-1],
                h["val_loss"].iloc[-1],
                m["auc"],
            ]
        )
        h, m = history(found[f"converged_{size}"]), metrics(found[f"converged_{size}"])
        converged.append(
            [
                size,
                m["best_epoch"],
                float(h["epoch_time_s"].sum()),
                h["val_loss"].min(),
                h["loss"][m["best_epoch"] - 1],
                m["loss"],
                m["auc"],
            ]
        )
    fig, axes = figure(11.0, 3.4, 3)
    sizes = list(BATCH_SIZES)
    axes[0].plot(sizes, [r[2] for r in fixed], "o-")
    axes[0].set(yscale="log", ylabel="time per epoch (s)", title="SGD 0.01, 5 epochs")
    axes[1].plot(sizes, [r[5] for r in fixed], "o-", label="SGD 0.01, 5 epochs")
    axes[1].plot(sizes, [r[6] for r in converged], "s-", label="Adam, early stopping")
    axes[1].set(ylabel="test AUC", title="generalisation")
    axes[1].legend(fontsize=8)
    axes[2].plot(sizes, [r[2] for r in converged], "s-", color="C1")
    axes[2].set(yscale="log", ylabel="training time to the stop (s)", title="Adam, early stopping")
    for ax in axes:
        ax.set(xscale="log", xlabel="batch size")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("1,200 training events, one CPU core")
    save(fig, "batch_size.png", out)
    return (
        "**Fixed budget: SGD (learning rate 0.01), 5 epochs**\n\n"
        + table(
            ["batch", "steps/epoch", "s/epoch", "final train loss", "final val loss", "test AUC"],
            fixed,
        )
        + "\n**To convergence: Adam (10⁻³), early stopping on val_loss**\n\n"
        + table(
            [
                "batch",
                "best epoch",
                "training time (s)",
                "best val loss",
                "train loss at best",
                "test loss",
                "test AUC",
            ],
            converged,
        )
    )


INIT_SCALES = (0.1, 0.3, 10.0)  # besides the named specs: he_normal scaled by these


def distinct_units(run: Path) -> str:
    """Distinct hidden units per layer of a trained model (identical kernel columns count once)."""
    from expctl.models.io import load_model

    model = load_model(run / "model.keras")
    counts = []
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and kernel.shape[1] > 1:
            columns = np.round(np.asarray(kernel).T, 6)
            counts.append(str(len(np.unique(columns, axis=0))))
    return "/".join(counts)


def init(out: Path) -> str:
    specs = ("too_small", "right", "too_large", "constant")
    for spec in specs:
        train(out, f"init/{spec}.yaml", allowed=(0, 1))  # a diverged run exits 1: a result too
    for scale in INIT_SCALES:
        train(
            out,
            "init/right.yaml",
            f"model.initializer.scale={scale}",
            name=f"init_scale_{scale:g}",
            allowed=(0, 1),
        )
    found = runs(out)
    compare_plot(out, "learning_curves", "init_val_loss.png")
    rows = []
    order = ["too_small", "scale_0.1", "scale_0.3", "right", "too_large", "scale_10", "constant"]
    for spec in order:
        run = found[f"init_{spec}"]
        h, m = history(run), metrics(run)
        initializer = yaml.safe_load((run / "spec.yaml").read_text())["model"]["initializer"]
        units = distinct_units(run) if (run / "model.keras").is_file() else "—"
        rows.append(
            [
                spec,
                f"{initializer['name']} × {initializer['scale']:g}",
                status(run),
                h["loss"].iloc[0],
                h["loss"].iloc[-1],
                m.get("auc", float("nan")),
                units,
            ]
        )
    return table(
        [
            "run",
            "initializer",
            "status",
            "loss epoch 1",
            "loss last epoch",
            "test AUC",
            "distinct units per layer",
        ],
        rows,
    )


def search(out: Path) -> str:
    methods = ("grid", "random", "bayes")
    for method in methods:
        expctl("sweep", HERE / f"search/{method}.yaml", "-q", "--output-dir", out)
    fig, (ax,) = figure(6.4, 4.0)
    rows = []
    for i, method in enumerate(methods):
        sweep = pd.read_csv(out / f"search_{method}" / "sweep.csv").sort_values("trial")
        values = sweep["value"].to_numpy(dtype=float)
        best_so_far = np.fmax.accumulate(np.where(np.isfinite(values), values, -np.inf))
        ax.plot(sweep["trial"] + 1, best_so_far, "o-", color=f"C{i}", label=method)
        best = sweep.loc[sweep["value"].idxmax()]
        run = next((out / f"search_{method}" / "trials").glob(f"{best['run']}*"))
        params = {k: best[k] for k in sweep.columns if k.startswith(("model.", "train."))}
        rows.append(
            [
                method,
                len(sweep),
                best["value"],
                int(best["trial"]) + 1,
                params["model.dropout"],
                params["train.optimizer.learning_rate"],
                metrics(run)["auc"],
                float(np.median(values)),
            ]
        )
    ax.set(xlabel="trial", ylabel="best validation AUC so far", ylim=(0.88, None))
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "search_best_so_far.png", out)
    return table(
        [
            "method",
            "trials",
            "best val AUC",
            "found at trial",
            "dropout",
            "learning rate",
            "its test AUC",
            "median trial val AUC",
        ],
        rows,
    )


def biasvar(out: Path) -> str:
    expctl(
        "biasvar",
        HERE / "biasvar/parabola.yaml",
        "--members",
        8,
        "--scan",
        "model.degree=[1,2,4,6,8]",
        "-q",
        "--output-dir",
        out,
    )
    expctl(
        "biasvar",
        HERE / "biasvar/capacity.yaml",
        "--members",
        5,
        "--scan",
        "model.hidden=[[2],[16],[128,128]]",
        "-q",
        "--output-dir",
        out,
    )
    parts = []
    for name in ("parabola", "capacity"):
        (directory,) = [p for p in out.iterdir() if p.is_dir() and f"-{name}-" in p.name]
        copy_figure(directory / "plots" / "capacity.png", f"biasvar_{name}.png")
        points = pd.read_csv(directory / "decomposition.csv")
        columns = (
            "scan_value",
            "train_error",
            "expected_error",
            "bias2_plus_noise",
            "bias2",
            "noise",
            "variance",
            "zero_one_bias",
            "zero_one_net_variance",
        )
        keep = [c for c in columns if c in points.columns]
        points["verdict"] = points["verdict"].str.split(":").str[0]
        parts.append(
            f"**{name}**\n\n"
            + table([*keep, "verdict"], points[[*keep, "verdict"]].itertuples(index=False))
        )
    return "\n".join(parts)


STUDIES: dict[str, Callable[[Path], str]] = {
    "dropout": dropout,
    "regularisation": regularisation,
    "early_stopping": early_stopping,
    "augmentation": augmentation,
    "label_noise": label_noise,
    "adversarial": adversarial,
    "multitask": multitask,
    "optimizers": optimizers,
    "batch_size": batch_size,
    "init": init,
    "search": search,
    "biasvar": biasvar,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "studies",
        nargs="*",
        choices=[[], *STUDIES],
        metavar="STUDY",
        help=f"studies to run (default all): {', '.join(STUDIES)}",
    )
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/lecture"))
    parser.add_argument(
        "--redraw",
        action="store_true",
        help="train nothing: draw the figures and tables again from the runs there",
    )
    args = parser.parse_args(argv)
    global REDRAW
    REDRAW = args.redraw
    chosen = args.studies or list(STUDIES)
    timings_path = args.output_dir / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    for name in chosen:
        out = args.output_dir / name
        if REDRAW:
            summary = STUDIES[name](out)
            (out / "summary.md").write_text(summary)
            print(f"\n## {name}\n\n{summary}", flush=True)
            continue
        if out.exists():
            print(f"replacing the earlier outputs of {name} in {out}", flush=True)
            shutil.rmtree(out)
        out.mkdir(parents=True)
        started = time.perf_counter()
        summary = STUDIES[name](out)
        timings[name] = round(time.perf_counter() - started, 1)
        (out / "summary.md").write_text(summary)
        print(f"\n## {name} ({timings[name]:.0f} s)\n\n{summary}", flush=True)
        timings_path.write_text(json.dumps(timings, indent=2) + "\n")
    print("\nwall time per study (s):")
    for name, seconds in timings.items():
        print(f"  {name:16s} {seconds:7.1f}")
    print(f"  {'total':16s} {sum(timings.values()):7.1f}")


if __name__ == "__main__":
    main()

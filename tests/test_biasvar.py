"""expctl biasvar: exact identities, the Domingos 0-1 decomposition, the polynomial source and
model, and the decomposition of real (tiny) trainings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.evaluation.biasvar import decompose, main_prediction, verdict, zero_one

# ----------------------------------------------------------------------------------- identities


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("seed", range(20))
def test_identities_hold_exactly_on_random_arrays(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, n = rng.integers(2, 12), rng.integers(1, 300)
    shape = (n,) if seed % 2 else (n, int(rng.integers(2, 5)))  # scalar or class-probability
    scale = 10.0 ** rng.uniform(-3, 3)
    y = rng.normal(0, scale, shape)
    f = y + rng.normal(0, scale / 3, shape)
    h = f[None] + rng.normal(rng.normal(0, scale), scale, (k, *shape))
    weight = rng.uniform(0, 5, n) if seed % 3 == 0 else None
    d = decompose(h, y, f=f, noise=0.7, weight=weight)
    assert _rel(d["expected_error"], d["bias2_plus_noise"] + d["variance"]) < 1e-9
    assert _rel(d["expected_error_noiseless"], d["bias2"] + d["variance"]) < 1e-9
    assert _rel(d["residual"], d["expected_error"] - 0.7 - d["bias2"] - d["variance"]) < 1e-9


def test_decomposition_by_hand() -> None:
    # two members, two points: h = [[1, 2], [3, 2]], y = [2, 0], f = [1, 1]
    h = np.array([[1.0, 2.0], [3.0, 2.0]])
    d = decompose(h, np.array([2.0, 0.0]), f=np.array([1.0, 1.0]), noise=0.5)
    # h̄ = [2, 2]; (y-h)² = [[1, 4], [1, 4]] -> 2.5; (h-h̄)² = [[1, 0], [1, 0]] -> 0.5
    assert d["expected_error"] == pytest.approx(2.5)
    assert d["variance"] == pytest.approx(0.5)
    assert d["bias2_plus_noise"] == pytest.approx(2.0)  # (2-2)², (0-2)² -> mean 2
    assert d["bias2"] == pytest.approx(1.0)  # (1-2)², (1-2)²
    assert d["expected_error_noiseless"] == pytest.approx(1.5)  # (1-1)², (1-3)², 1, 1 -> 6/4
    assert d["residual"] == pytest.approx(2.5 - 0.5 - 1.0 - 0.5)


def test_decompose_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="at least 2 members"):
        decompose(np.zeros((1, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="expected"):
        decompose(np.zeros((3, 4)), np.zeros(3))


# ------------------------------------------------------------------------------ Domingos (2000)


def test_zero_one_hand_worked_example() -> None:
    """Five members, four points, two classes; every number below is worked out by hand.

    point  y  members       mode  B  V                 loss = mean[h != y]
    0      1  1 1 1 0 1     1     0  1/5               1/5
    1      0  1 1 0 1 1     1     1  1/5 (one says 0)  4/5
    2      1  0 1 0 1 0     0     1  2/5               3/5
    3      0  0 0 0 0 0     0     0  0                 0
    bias = 2/4; variance = (1/5 + 1/5 + 2/5 + 0)/4 = 1/5
    unbiased variance = (1/5 + 0)/4 = 1/20 (points 0 and 3)
    biased variance = (1/5 + 2/5)/4 = 3/20 (points 1 and 2)
    net variance = 1/20 - 3/20 = -1/10; expected loss = (1/5 + 4/5 + 3/5 + 0)/4 = 2/5
    and bias + net variance = 1/2 - 1/10 = 2/5.
    """
    labels = np.array(
        [
            [1, 1, 0, 0],
            [1, 1, 1, 0],
            [1, 0, 0, 0],
            [0, 1, 1, 0],
            [1, 1, 0, 0],
        ]
    )
    y = np.array([1, 0, 1, 0])
    assert main_prediction(labels, 2).tolist() == [1, 1, 0, 0]
    d = zero_one(labels, y)
    assert d["bias"] == pytest.approx(0.5)
    assert d["variance"] == pytest.approx(0.2)
    assert d["unbiased_variance"] == pytest.approx(0.05)
    assert d["biased_variance"] == pytest.approx(0.15)
    assert d["net_variance"] == pytest.approx(-0.1)
    assert d["expected_loss"] == pytest.approx(0.4)


@pytest.mark.parametrize("seed", range(10))
def test_zero_one_loss_is_bias_plus_net_variance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k_classes = 2 if seed < 5 else 4
    labels = rng.integers(0, k_classes, (int(rng.integers(2, 9)), 50))
    y = rng.integers(0, k_classes, 50)
    d = zero_one(labels, y, k_classes)
    assert d["expected_loss"] == pytest.approx(d["bias"] + d["net_variance"], rel=1e-12, abs=1e-15)
    if k_classes == 2:
        assert d["net_variance"] == pytest.approx(d["unbiased_variance"] - d["biased_variance"])


def test_main_prediction_ties_go_to_the_lowest_class() -> None:
    assert main_prediction(np.array([[0, 1], [1, 0]]), 2).tolist() == [0, 0]


def test_verdicts_name_the_numbers() -> None:
    known = {"expected_error": 1.0, "bias2": 0.6, "variance": 0.1, "noise": 0.3}
    assert verdict(known).startswith("high bias: bias² 0.6 >= variance 0.1")
    assert verdict({**known, "bias2": 0.1, "variance": 0.6}).startswith("high variance")
    assert verdict({**known, "bias2": 0.01, "variance": 0.02}).startswith("good fit")
    unknown = {"expected_error": 0.3, "bias2_plus_noise": 0.2, "variance": 0.1}
    assert "bias²+noise 0.2" in verdict(unknown) and "noise unknown" in verdict(unknown)
    assert verdict({**unknown, "train_error": 0.2}).startswith("high bias")
    overfit = verdict({**unknown, "train_error": 0.01})
    assert overfit.startswith("high variance: test error 0.3 is more than twice")


# -------------------------------------------------------------------------- polynomial source


def test_polynomial_source_knows_its_truth() -> None:
    from expctl.data import prepare
    from expctl.data.polynomial import TRUTHS
    from expctl.spec import spec_from_dict

    spec = spec_from_dict(
        {"data": {"source": "polynomial", "coefficients": [1, 0, -2], "sigma": 0.5}, "seed": 4}
    )
    ds = prepare(spec.data, Path("."), spec.seed)
    assert ds.task == "regression" and ds.n_features == 1
    f, noise = TRUTHS["polynomial"](spec.data, 4)
    assert noise == 0.25
    x = np.concatenate([ds.train.x, ds.test.x])[:, 0].astype(np.float64)
    assert np.allclose(f(x[:, None]), 1 - 2 * x**2)
    resid = np.concatenate([ds.train.y, ds.test.y]) - f(x[:, None])
    assert abs(resid.std() - 0.5) < 0.05  # 500 events: the noise has the given sigma


def test_polynomial_spec_errors() -> None:
    from expctl.errors import SpecError
    from expctl.spec import spec_from_dict

    with pytest.raises(SpecError, match="coefficients or degree"):
        spec_from_dict({"data": {"source": "polynomial", "coefficients": [1], "degree": 2}})
    with pytest.raises(SpecError, match="x_min"):
        spec_from_dict({"data": {"source": "polynomial", "x_min": 1, "x_max": 0}})
    with pytest.raises(SpecError, match=r"model\.degree"):
        spec_from_dict({"model": {"type": "polynomial", "degree": 0}})


def test_polynomial_model_features_are_legendre_polynomials() -> None:
    import keras

    from expctl.models.polynomial import build_polynomial
    from expctl.spec import spec_from_dict

    spec = spec_from_dict({"model": {"type": "polynomial", "degree": 5}})
    inputs = keras.Input(shape=(1,))
    model = keras.Model(inputs, build_polynomial(spec.model, inputs))
    x = np.linspace(-1.7, 1.7, 9)[:, None].astype(np.float32)
    got = model.predict(x, verbose=0)
    z = x[:, 0] / np.sqrt(3.0)
    want = np.stack([np.polynomial.legendre.legval(z, np.eye(6)[n]) for n in range(1, 6)], axis=1)
    assert np.allclose(got, want, atol=1e-5)


# --------------------------------------------------------------------- trainings (tiny, seeded)

PARABOLA = {
    "name": "parabola",
    "seed": 2,
    "data": {
        "source": "polynomial",
        "coefficients": [0.5, 0.0, 2.0],
        "sigma": 0.3,
        "n_samples": 4000,
        "split": {"train": 0.05, "val": 0.0, "test": 0.95},
    },
    "model": {"type": "polynomial", "degree": 2},
    "train": {
        "optimizer": {"name": "adam", "learning_rate": 0.1},
        "schedule": {"name": "cosine"},
        "batch_size": 50,
        "epochs": 20,
    },
}


def _write(tmp_path: Path, data: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def degree_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Degrees 1 and 2 fitted to a parabola: 4 members each, fresh training sets of 200 events."""
    tmp = tmp_path_factory.mktemp("scan")
    spec = _write(tmp, PARABOLA)
    result = CliRunner().invoke(
        cli,
        [
            *("biasvar", str(spec), "--members", "4", "--scan", "model.degree=[1, 2]"),
            *("--output-dir", str(tmp / "out"), "-q"),
        ],
    )
    assert result.exit_code == 0, result.output
    print(result.output)
    (path,) = (tmp / "out").iterdir()
    return path


def _points(path: Path) -> list[dict]:
    return json.loads((path / "decomposition.json").read_text())["points"]


@pytest.mark.slow  # trains 4-8 tiny models: 20-40 s on a shared 2-core machine
def test_correctly_specified_model_has_little_bias(degree_scan: Path) -> None:
    point = _points(degree_scan)[1]
    assert point["scan_value"] == 2
    total = point["noise"] + point["bias2"] + point["variance"]
    print(
        f"degree 2: bias2/expected_error = {point['bias2'] / point['expected_error']:.4f}, "
        f"(noise+bias2+variance)/expected_error = {total / point['expected_error']:.4f}"
    )
    assert point["bias2"] < 0.05 * point["expected_error"]
    assert abs(total - point["expected_error"]) < 0.05 * point["expected_error"]
    assert point["verdict"].startswith("good fit")


@pytest.mark.slow  # trains 4-8 tiny models: 20-40 s on a shared 2-core machine
def test_straight_line_through_a_parabola_is_biased(degree_scan: Path) -> None:
    point = _points(degree_scan)[0]
    assert point["scan_value"] == 1
    print(f"degree 1: bias2 {point['bias2']:.4f}, variance {point['variance']:.4f}")
    # the best line misses 2x² by 2(x² - 1/3): bias² = 4 (1/5 - 1/9) = 16/45 on x ~ U(-1, 1)
    assert point["bias2"] == pytest.approx(16 / 45, rel=0.1)
    assert point["bias2"] > 10 * point["variance"]
    assert point["verdict"].startswith("high bias")


@pytest.mark.slow  # trains 4-8 tiny models: 20-40 s on a shared 2-core machine
def test_biasvar_directory_contents(degree_scan: Path) -> None:
    status = json.loads((degree_scan / "status.json").read_text())
    assert status["kind"] == "biasvar" and status["status"] == "completed"
    assert status["resample"] == "fresh"
    # recorded like a run's, so a killed experiment reads as `crashed`
    import socket

    from expctl.runs.store import live_status

    assert status["host"] == socket.gethostname() and status["process_start"]
    killed = {**status, "status": "running", "pid": 2**22 + 7}
    assert live_status(killed)["status"] == "crashed"
    for name in ("spec.yaml", "decomposition.csv", "members.csv"):
        assert (degree_scan / name).is_file()
    _assert_drawn_png(degree_scan / "plots" / "bias_variance.png")
    _assert_drawn_png(degree_scan / "plots" / "capacity.png")
    assert not (degree_scan / "plots" / "learning_curve.png").exists()
    members = sorted((degree_scan / "members").iterdir())
    assert len(members) == 8 and all((m / "metrics.json").is_file() for m in members)
    header = (degree_scan / "decomposition.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["scan_key", "scan_value", "train_fraction"]
    assert {"expected_error", "bias2", "noise", "residual", "verdict"} <= set(header)
    # members of one point share the test split and differ in seed and training set
    seeds = [yaml.safe_load((m / "spec.yaml").read_text())["seed"] for m in members]
    assert sorted(seeds) == [2, 2, 3, 3, 4, 4, 5, 5]


@pytest.mark.slow  # trains 4-8 tiny models: 20-40 s on a shared 2-core machine
def test_high_capacity_on_few_points_is_dominated_by_variance(tmp_path: Path) -> None:
    data = json.loads(json.dumps(PARABOLA))
    data["data"].update(n_samples=2000, split={"train": 0.01, "val": 0.0, "test": 0.99})
    data["model"]["degree"] = 8
    data["train"].update(batch_size=4, epochs=60, optimizer={"name": "adam", "learning_rate": 0.05})
    spec = _write(tmp_path, data)
    result = CliRunner().invoke(
        cli, ["biasvar", str(spec), "--members", "3", "--output-dir", str(tmp_path / "o"), "-q"]
    )
    assert result.exit_code == 0, result.output
    print(result.output)
    (point,) = _points(next((tmp_path / "o").iterdir()))
    assert point["train_size"] == 20
    assert point["train_error"] < point["noise"]  # it fits its 20 points' noise: overfitting
    assert point["variance"] > point["bias2"]
    assert point["variance"] > point["noise"]
    assert point["verdict"].startswith("high variance")


# --------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scan", "model.degree=3"], "non-empty YAML list"),
        (["--scan", "seed=[1,2]"], "cannot be scanned"),
        (["--scan", "model.degre=[1,2]"], "model.degre"),
        (["--scan", "model.degree=[1,0]"], "model.degree"),
        (["--train-sizes", "0.5,1.5"], "fraction"),
        (["--members", "1"], "1"),
    ],
)
def test_bad_input_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    spec = _write(tmp_path, PARABOLA)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["biasvar", str(spec), "--output-dir", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_fresh_training_sets_need_a_generating_source(tmp_path: Path, write_spec) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["biasvar", str(write_spec()), "--resample", "fresh", "--output-dir", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "cannot draw new training sets" in result.output
    assert not out.exists()


# ------------------------------------------------------------------------------------- views


@pytest.mark.slow  # trains 4-8 tiny models: 20-40 s on a shared 2-core machine
def test_compare_shows_one_row_per_point(degree_scan: Path) -> None:
    result = CliRunner().invoke(
        cli, ["compare", str(degree_scan), "--format", "json", "--no-group"]
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    rows = json.loads(result.stdout)["rows"]
    by_degree = {r["model.degree"]: r for r in rows}
    points = _points(degree_scan)
    assert by_degree[1]["bias2"] == pytest.approx(points[0]["bias2"])
    assert by_degree[2]["expected_error"] == pytest.approx(points[1]["expected_error"])
    # the member runs are normal runs: compare groups the 4 seeds of each degree
    result = CliRunner().invoke(cli, ["compare", str(degree_scan / "members"), "--format", "json"])
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)["rows"]
    assert sorted(g["n_runs"] for g in groups) == [4, 4]


@pytest.mark.slow  # trains 4-8 tiny models: 20-40 s on a shared 2-core machine
def test_show_prints_the_points_and_verdicts(degree_scan: Path) -> None:
    result = CliRunner().invoke(cli, ["show", str(degree_scan)])
    assert result.exit_code == 0, result.output
    assert "8 member runs" in result.output
    assert "model.degree=1" in result.output and "high bias" in result.output
    assert "good fit" in result.output


def _png_shape(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails unless the file starts as a PNG does."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _assert_drawn_png(path: Path) -> None:
    """A PNG that decodes to the size its header states and shows more than one colour."""
    from matplotlib.image import imread

    pixels = imread(path)
    assert pixels.shape[1::-1] == _png_shape(path)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 2


def test_train_sizes_draw_the_learning_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expctl.plots import biasvar as biasvar_plots

    drawn = {}

    def recording(rows, scan_key, title=None):  # keep the figure that is saved
        drawn["figure"] = figure = original(rows, scan_key, title=title)
        return figure

    original = biasvar_plots.learning_curve_figure
    monkeypatch.setattr(biasvar_plots, "learning_curve_figure", recording)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "biasvar",
            str(Path(__file__).resolve().parents[1] / "experiments" / "biasvar_polynomial.yaml"),
            "--members",
            "2",
            "--train-sizes",
            "0.5,1.0",
            "--set",
            "train.epochs=5",
            "--output-dir",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    (directory,) = [p for p in out.iterdir() if p.is_dir()]
    points = json.loads((directory / "decomposition.json").read_text())["points"]
    assert [p["train_size"] for p in points] == [10, 20]  # 50% and 100% of 20 training events
    for p in points:
        assert p["expected_error"] == pytest.approx(p["bias2_plus_noise"] + p["variance"], rel=1e-9)
    # The saved figure is the one drawn, at its size, and its curves are decomposition.json's numbers.
    figure = drawn["figure"]
    png = directory / "plots" / "learning_curve.png"
    _assert_drawn_png(png)
    assert _png_shape(png) == tuple(round(v) for v in figure.get_size_inches() * figure.dpi)
    curves = {line.get_label(): line for line in figure.axes[0].get_lines()}
    for key, label in [
        ("expected_error", "test error"),
        ("bias2", "bias²"),
        ("variance", "variance"),
    ]:
        assert list(curves[label].get_xdata()) == [10, 20]
        assert list(curves[label].get_ydata()) == [p[key] for p in points], label
    assert list(curves["noise σ²"].get_ydata()) == [points[0]["noise"]] * 2


@pytest.mark.slow
def test_workers_give_the_same_numbers_as_one_process(tmp_path: Path) -> None:
    spec = Path(__file__).resolve().parents[1] / "experiments" / "biasvar_polynomial.yaml"
    points = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        args = ["biasvar", str(spec), "--members", "2", "--set", "train.epochs=5"]
        result = CliRunner().invoke(cli, [*args, "--workers", workers, "--output-dir", str(out)])
        assert result.exit_code == 0, result.output
        (directory,) = [p for p in out.iterdir() if p.is_dir()]
        points.append(json.loads((directory / "decomposition.json").read_text())["points"])
    keys = ("expected_error", "variance", "bias2_plus_noise", "bias2", "train_error")
    assert [{k: p[k] for k in keys} for p in points[0]] == [
        {k: p[k] for k in keys} for p in points[1]
    ]

"""`expctl predict` and `expctl.predict`: a completed run's scores for the events of other files.

One small Parquet-sourced binary run and one multitask run are trained once per session; their
test events, prepared again from their stored specs, must give back predictions.npz exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.data.jets import JET_FEATURES, generate_jets

FEATURES = list(JET_FEATURES)


def _train(base: Path, name: str, spec: dict[str, Any]) -> Path:
    path = base / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = base / "outputs"
    before = set(out.iterdir()) if out.exists() else set()
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = set(out.iterdir()) - before
    return run


def jets_frame(n: int, seed: int) -> pd.DataFrame:
    """Jets with an event number column in a shuffled order (so order mix-ups show)."""
    frame = generate_jets(n, seed=seed)
    frame["event"] = np.random.default_rng(seed).permutation(n).astype(np.int64) * 3 + 11
    return frame


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A binary run on a Parquet file and a multitask (binary + regression) jets run, 1 epoch."""
    base = tmp_path_factory.mktemp("inference")
    jets_frame(600, seed=5).to_parquet(base / "jets.parquet")
    common = {
        "seed": 3,
        "model": {"type": "mlp", "hidden": [8]},
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "batch_size": 64,
            "epochs": 1,
        },
        "tracking": {"tensorboard": False},
    }
    binary = {
        "name": "pq",
        **common,
        "data": {
            "source": "parquet",
            "path": "jets.parquet",
            "target": "label",
            "features": FEATURES,
        },
    }
    multitask = {
        "name": "mt",
        **common,
        "data": {"source": "jets", "n_samples": 600},
        "model": {
            "type": "mlp",
            "hidden": [8],
            "heads": [
                {"name": "signal", "task": "binary", "target": "label"},
                {"name": "energy", "task": "regression", "target": "energy", "loss_weight": 0.5},
            ],
        },
    }
    return {"binary": _train(base, "binary", binary), "multitask": _train(base, "mt", multitask)}


def split_rows(run: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The run's test events (its features, as prepared again from its stored spec) and its
    predictions.npz."""
    from expctl.data import prepare
    from expctl.runner.resume import stored_spec
    from expctl.runs import RunView

    loaded, _ = stored_spec(RunView(run))
    spec = loaded.spec
    dataset = prepare(spec.data, loaded.base_dir, spec.seed, spec.heads)
    frame = pd.DataFrame(dataset.test.x, columns=list(dataset.feature_names))
    frame["row"] = np.arange(len(frame))
    with np.load(run / "predictions.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return frame, arrays


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize("chunk", ["65536", "7"])
def test_predict_on_the_test_split_gives_predictions_npz_exactly(
    trained: dict[str, Path], tmp_path: Path, chunk: str
) -> None:
    frame, arrays = split_rows(trained["binary"])
    frame.to_parquet(tmp_path / "test.parquet")
    out = tmp_path / "scores.parquet"
    result = invoke(
        "predict",
        trained["binary"],
        tmp_path / "test.parquet",
        "--out",
        out,
        "--keep",
        "row",
        "--chunk-size",
        chunk,
    )
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(out)
    assert list(got.columns) == ["row", "score"]
    np.testing.assert_array_equal(got["row"], np.arange(len(frame)))
    # bit for bit: the same float32 features through the same batches (chunk 7: scored in
    # pieces of 7 events, which the model does not notice either)
    np.testing.assert_array_equal(got["score"].to_numpy(), arrays["y_score"])


def test_multitask_scores_per_head(trained: dict[str, Path], tmp_path: Path) -> None:
    frame, arrays = split_rows(trained["multitask"])
    frame.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "scores.csv"
    result = invoke("predict", trained["multitask"], tmp_path / "test.csv", "--out", out)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    assert list(got.columns) == ["score_signal", "score_energy"]
    np.testing.assert_array_equal(got["score_signal"].to_numpy(), arrays["y_score_signal"])
    np.testing.assert_array_equal(got["score_energy"].to_numpy(), arrays["y_score_energy"])


def test_root_output_is_a_friend_of_the_input_tree(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    import uproot

    import expctl.api

    frame = jets_frame(300, seed=8)
    branches = {c: frame[c].to_numpy() for c in [*FEATURES, "event", "label"]}
    with uproot.recreate(tmp_path / "in.root") as f:  # a TTree, as experiments write them
        f.mktree("Events", {c: v.dtype for c, v in branches.items()}).extend(branches)
    out = tmp_path / "friend.root"
    result = invoke(
        "predict",
        trained["binary"],
        tmp_path / "in.root",
        "--out",
        out,
        "--keep",
        "event",
        "--chunk-size",
        "64",
    )
    assert result.exit_code == 0, result.output
    with uproot.open(tmp_path / "in.root") as fin, uproot.open(out) as fout:
        events, friend = fin["Events"], fout["Events"]
        assert friend.num_entries == events.num_entries == 300
        # entry i of the friend is entry i of the input: its event number, and its score
        np.testing.assert_array_equal(friend["event"].array(library="np"), frame["event"])
        scores = friend["score"].array(library="np")
    expected = expctl.api.predict(trained["binary"], frame[FEATURES])
    np.testing.assert_array_equal(scores, expected["score"].to_numpy())


def test_npz_input_streamed_equals_the_dataframe_api(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    import expctl.api

    frame = jets_frame(100, seed=9)
    np.savez(tmp_path / "in.npz", **{c: frame[c].to_numpy() for c in [*FEATURES, "event"]})
    got = expctl.api.predict(trained["binary"], tmp_path / "in.npz", keep=["event"])
    expected = expctl.api.predict(trained["binary"], frame, keep=["event"])
    array = expctl.api.predict(trained["binary"], frame[FEATURES].to_numpy())
    pd.testing.assert_frame_equal(got, expected)
    np.testing.assert_array_equal(array["score"], expected["score"])
    assert got["event"].tolist() == frame["event"].tolist()


def test_nan_policy_drop_gives_nan_scores_in_place(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    import expctl.api

    run = tmp_path / "run"
    shutil.copytree(trained["binary"], run)
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    spec["data"]["nan"] = "drop"
    (run / "spec.yaml").write_text(yaml.safe_dump(spec))
    frame = jets_frame(20, seed=1)
    frame.loc[[3, 11], "mass"] = np.nan
    got = expctl.api.predict(run, frame)
    assert np.isnan(got["score"].to_numpy()[[3, 11]]).all()
    assert np.isfinite(np.delete(got["score"].to_numpy(), [3, 11])).all()
    clean = expctl.api.predict(run, frame.drop(index=[3, 11]))
    np.testing.assert_array_equal(np.delete(got["score"].to_numpy(), [3, 11]), clean["score"])


# --------------------------------------------------------------------------------- bad input


def _copy_run(source: Path, where: Path, edit: dict[str, Any]) -> Path:
    run = where / "run"
    shutil.copytree(source, run)
    for name, change in edit.items():
        path = run / name
        if name.endswith(".json"):
            data = json.loads(path.read_text())
            change(data)
            path.write_text(json.dumps(data))
        else:
            data = yaml.safe_load(path.read_text())
            change(data)
            path.write_text(yaml.safe_dump(data))
    return run


def _bad_inputs(trained: dict[str, Path], tmp: Path) -> dict[str, tuple[list[Any], str]]:
    frame = jets_frame(50, seed=2)
    frame.rename(columns={"mass": "mas"}).to_parquet(tmp / "renamed.parquet")
    frame.to_parquet(tmp / "good.parquet")
    text = frame.copy()
    text["width"] = "wide"
    text.to_parquet(tmp / "text.parquet")
    (tmp / "garbage.parquet").write_bytes(b"PAR1 this is not a parquet file")
    np.savez(tmp / "narrow.npz", x=np.zeros((10, 5)), y=np.zeros(10))
    nan = jets_frame(200, seed=4)
    nan.loc[150, "tau21"] = np.nan  # in the third chunk of 64: after two were scored
    nan.to_parquet(tmp / "nan.parquet")
    binary = trained["binary"]
    failed = _copy_run(binary, tmp / "f", {"status.json": lambda s: s.update(status="failed")})
    npz_run = _copy_run(
        binary,
        tmp / "n",
        {
            "data.json": lambda d: d.update(features=[f"x{i}" for i in range(7)]),
            "spec.yaml": lambda s: s.update(data={"source": "npz", "path": "a.npz"}),
        },
    )
    return {
        "missing column": ([binary, tmp / "renamed.parquet"], "'mass' (did you mean 'mas'?)"),
        "not numeric": ([binary, tmp / "text.parquet"], "not numeric: 'width'"),
        "feature count": ([npz_run, tmp / "narrow.npz"], "takes 7 features per event"),
        "not completed": ([failed, tmp / "good.parquet"], "the run is failed"),
        "unreadable": ([binary, tmp / "garbage.parquet"], "cannot read as Parquet"),
        "no such file": ([binary, tmp / "absent.parquet"], "no such file"),
        "keep missing": (
            [binary, tmp / "good.parquet", "--keep", "evnt"],
            "--keep: no column 'evnt' (did you mean 'event'?)",
        ),
        "nan part-way": ([binary, tmp / "nan.parquet", "--chunk-size", "64"], "'tau21'"),
        "root text keep": (
            [binary, tmp / "text.parquet", "--keep", "width", "--format", "root"],
            "not numeric",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing column",
        "not numeric",
        "feature count",
        "not completed",
        "unreadable",
        "no such file",
        "keep missing",
        "nan part-way",
        "root text keep",
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    trained: dict[str, Path], tmp_path: Path, case: str
) -> None:
    args, message = _bad_inputs(trained, tmp_path)[case]
    out = tmp_path / "out" / "scores.parquet"
    out.parent.mkdir()
    result = invoke("predict", *args[:2], "--out", out, *args[2:])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(out.parent.iterdir()) == []  # not even a temporary file


def test_an_existing_out_is_refused_unless_forced(trained: dict[str, Path], tmp_path: Path) -> None:
    jets_frame(30, seed=6).to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "scores.csv"
    out.write_text("keep me\n")
    result = invoke("predict", trained["binary"], tmp_path / "in.parquet", "--out", out)
    assert result.exit_code == 2 and "exists; --force replaces it" in result.output
    assert out.read_text() == "keep me\n"
    result = invoke("predict", trained["binary"], tmp_path / "in.parquet", "--out", out, "--force")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 30


def test_api_refuses_an_array_of_the_wrong_width(trained: dict[str, Path]) -> None:
    import expctl.api
    from expctl.errors import DataError

    with pytest.raises(DataError, match=r"shape \(4, 3\).*\(n_events, 7\)"):
        expctl.api.predict(trained["binary"], np.zeros((4, 3)))


# ------------------------------------------------------------------------------------ memory


def _keras_predict(model: Any, x: np.ndarray) -> Any:
    """Keras' own model.predict on tf.data datasets of PREDICT_GROUP batches at most (how runs
    predicted before model_predict called the compiled function itself)."""
    from expctl.training.pipeline import ordered_batches
    from expctl.training.predict import PREDICT_BATCH, PREDICT_GROUP

    chunk = PREDICT_BATCH * min(model.steps_per_execution, PREDICT_GROUP)
    parts = [
        model.predict(ordered_batches(x[s : s + chunk], PREDICT_BATCH), verbose=0)
        for s in range(0, len(x), chunk)
    ]
    if isinstance(parts[0], dict):
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return np.concatenate(parts)


def test_scoring_equals_keras_predict_and_keeps_no_chunk_alive(trained: dict[str, Path]) -> None:
    """RunModel.predict (training.predict.model_predict) calls Keras' compiled predict function
    with groups of batches: the bits of Keras' model.predict on the same groups, on a sample of
    several groups; and, unlike a model.predict per chunk (whose tf.data pipeline kept every
    chunk's array: +27 MB per million events), the chunks' arrays are freed once scored."""
    import gc
    import weakref

    from expctl.inference.runmodel import open_run
    from expctl.training.predict import PREDICT_BATCH

    for name in ("binary", "multitask"):
        run = open_run(trained[name])
        assert run.load_model().steps_per_execution > 1  # several batches per compiled call
        x = np.random.default_rng(0).normal(size=(7 * PREDICT_BATCH + 5, 7)).astype(np.float32)
        # a model loaded apart: its own compiled function, traced by model.predict's calls
        got, expected = run.predict(x), _keras_predict(open_run(trained[name]).load_model(), x)
        if isinstance(expected, dict):
            assert set(got) == set(expected)
            for key in expected:
                np.testing.assert_array_equal(got[key], expected[key])
        else:
            np.testing.assert_array_equal(got, expected)
    alive = []
    for seed in range(3):
        chunk = np.random.default_rng(seed).normal(size=(1000, 7)).astype(np.float32)
        alive.append(weakref.ref(chunk))
        run.scores(chunk)
        del chunk
    gc.collect()
    assert [ref() is None for ref in alive] == [True, True, True]

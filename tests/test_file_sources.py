"""HDF5 (written with h5py) and ROOT (written with uproot) files read as data sources."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import TINY

from expctl.data import prepare
from expctl.errors import DataError, SpecError
from expctl.spec import spec_from_dict


def data_spec(**data):
    return spec_from_dict({"data": data}).data


def _events(n: int = 300, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    return {
        "pt": rng.normal(100 + 20 * label, 10),
        "eta": rng.normal(0, 1, n),
        "mass": rng.normal(80 * label + 30, 5).astype(np.float32),
        "w": rng.uniform(0.5, 1.5, n),
        "label": label.astype(np.int32),
    }


# ----------------------------------------------------------------------------------------- HDF5


def test_hdf5_compound_table(tmp_path: Path) -> None:
    ev = _events()
    records = np.zeros(len(ev["pt"]), dtype=[(k, v.dtype) for k, v in ev.items()])
    for k, v in ev.items():
        records[k] = v
    with h5py.File(tmp_path / "ev.h5", "w") as f:
        f.create_dataset("events", data=records)
    spec = data_spec(
        source="hdf5", path=str(tmp_path / "ev.h5"), table="events", target="label", weight="w"
    )
    ds = prepare(spec, tmp_path, seed=1)
    assert ds.task == "binary"
    assert ds.feature_names == ("pt", "eta", "mass")
    assert len(ds.train) + len(ds.val) + len(ds.test) == 300
    assert ds.test.w is not None
    rows = np.concatenate([ds.train.x, ds.val.x, ds.test.x])
    assert rows.shape == (300, 3)


def test_hdf5_group_of_columns_with_feature_choice(tmp_path: Path) -> None:
    ev = _events()
    with h5py.File(tmp_path / "ev.h5", "w") as f:
        group = f.create_group("tree")
        for k, v in ev.items():
            group.create_dataset(k, data=v)
    spec = data_spec(
        source="hdf5",
        path="ev.h5",
        table="tree",
        target="label",
        features=["mass", "pt"],
        standardize=False,
    )
    ds = prepare(spec, tmp_path, seed=1)
    assert ds.feature_names == ("mass", "pt")
    # the events are the file's: every (mass, pt) pair read is one written
    f32 = np.float32
    written = {(f32(m), f32(p)) for m, p in zip(ev["mass"], ev["pt"], strict=True)}
    read = {(f32(a), f32(b)) for a, b in np.concatenate([ds.train.x, ds.test.x])}
    assert read <= written


def test_hdf5_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] > 0).astype(np.int64)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["inputs/x"] = x
        f["inputs/y"] = y
    ds = prepare(data_spec(source="hdf5", path="a.h5", x="inputs/x", y="inputs/y"), tmp_path, 1)
    assert ds.feature_names == ("x0", "x1", "x2", "x3")
    assert ds.task == "binary"


def test_hdf5_errors_name_the_file_and_the_choices(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["inputs/x"] = np.zeros((60, 2))
        f["inputs/y"] = np.zeros(50)
    with pytest.raises(DataError, match=r"no dataset or group 'inputs/xx'.*did you mean"):
        prepare(data_spec(source="hdf5", path="a.h5", x="inputs/xx", y="inputs/y"), tmp_path, 1)
    with pytest.raises(DataError, match=r"expected \(60,\)"):
        prepare(data_spec(source="hdf5", path="a.h5", x="inputs/x", y="inputs/y"), tmp_path, 1)
    with pytest.raises(DataError, match="not a table"):
        prepare(data_spec(source="hdf5", path="a.h5", table="inputs/x", target="y"), tmp_path, 1)
    (tmp_path / "bad.h5").write_text("not hdf5")
    with pytest.raises(DataError, match="cannot read as HDF5"):
        prepare(data_spec(source="hdf5", path="bad.h5", x="x", y="y"), tmp_path, 1)
    with pytest.raises(SpecError, match="give table"):
        data_spec(source="hdf5", path="a.h5", x="inputs/x")


# ----------------------------------------------------------------------------------------- ROOT


def _write_root(
    path: Path, columns: dict[str, np.ndarray], tree: str = "Events", jagged: bool = False
) -> None:
    """A TTree (uproot's mktree/extend); `jagged` adds a variable-length branch `hits`."""
    uproot = pytest.importorskip("uproot")
    import awkward as ak

    branches = {k: v.dtype for k, v in columns.items()}
    data = dict(columns)
    if jagged:
        branches["hits"] = "var * float64"
        data["hits"] = ak.Array([[1.0] * (i % 3) for i in range(len(next(iter(columns.values()))))])
    with uproot.recreate(path) as f:
        f.mktree(tree, branches).extend(data)


def test_root_signal_and_background_files_with_labels(tmp_path: Path) -> None:
    ev = _events(400)
    sig = {k: v[ev["label"] == 1] for k, v in ev.items() if k != "label"}
    bkg = {k: v[ev["label"] == 0] for k, v in ev.items() if k != "label"}
    _write_root(tmp_path / "sig.root", sig)
    _write_root(tmp_path / "bkg.root", bkg)
    spec = data_spec(
        source="root",
        files=[{"path": "sig.root", "label": 1}, {"path": "bkg.root", "label": 0}],
        weight="w",
    )
    ds = prepare(spec, tmp_path, seed=1)
    assert ds.task == "binary"
    assert ds.feature_names == ("pt", "eta", "mass")
    n = len(ds.train) + len(ds.val) + len(ds.test)
    assert n == 400
    # signal events (label 1) are the ones with the larger mass
    assert ds.train.w is not None
    total_signal = sum(int(part.y.sum()) for part in (ds.train, ds.val, ds.test))
    assert total_signal == len(sig["pt"])


def test_root_target_branch_and_a_second_tree_name(tmp_path: Path) -> None:
    ev = _events(200)
    _write_root(tmp_path / "all.root", ev, tree="jets", jagged=True)
    spec = data_spec(
        source="root", files=[{"path": "all.root"}], tree="jets", target="label", features=["pt"]
    )
    ds = prepare(spec, tmp_path, seed=1)
    assert ds.feature_names == ("pt",) and ds.task == "binary"
    # by default every scalar branch is a feature; the jagged one (and its counter) is refused
    everything = data_spec(source="root", files=[{"path": "all.root"}], tree="jets", target="label")
    assert prepare(everything, tmp_path, seed=1).feature_names == (
        "pt",
        "eta",
        "mass",
        "w",
        "nhits",
    )
    hits = data_spec(
        source="root", files=[{"path": "all.root"}], tree="jets", target="label", features=["hits"]
    )
    with pytest.raises(DataError, match="'hits' does not hold one number per event"):
        prepare(hits, tmp_path, seed=1)


def test_root_rntuple(tmp_path: Path) -> None:
    uproot = pytest.importorskip("uproot")
    ev = _events(200)
    with uproot.recreate(tmp_path / "nt.root") as f:
        f["Events"] = ev  # uproot writes an RNTuple from a dict of arrays
    spec = data_spec(source="root", files=[{"path": "nt.root"}], target="label", weight="w")
    ds = prepare(spec, tmp_path, seed=1)
    assert sorted(ds.feature_names) == ["eta", "mass", "pt"]  # the writer orders the fields


def test_root_errors(tmp_path: Path) -> None:
    ev = _events(100)
    _write_root(tmp_path / "a.root", ev)
    with pytest.raises(DataError, match=r"no TTree 'Event'.*did you mean 'Events'"):
        prepare(
            data_spec(source="root", files=[{"path": "a.root"}], tree="Event", target="label"),
            tmp_path,
            1,
        )
    with pytest.raises(DataError, match=r"no branch 'ptt'.*did you mean 'pt'"):
        prepare(
            data_spec(source="root", files=[{"path": "a.root"}], target="label", features=["ptt"]),
            tmp_path,
            1,
        )
    with pytest.raises(SpecError, match="every file needs a label"):
        data_spec(source="root", files=[{"path": "a.root"}])
    (tmp_path / "bad.root").write_text("nope")
    with pytest.raises(DataError, match="cannot read as a ROOT file"):
        prepare(data_spec(source="root", files=[{"path": "bad.root", "label": 0}]), tmp_path, 1)


def test_run_on_a_root_file_end_to_end(tmp_path: Path, write_spec) -> None:
    from click.testing import CliRunner

    from expctl.cli import cli

    ev = _events(300)
    _write_root(tmp_path / "ev.root", ev)
    path = write_spec(
        {"data": {"source": "root", "files": [{"path": "ev.root"}], "target": "label"}},
        base={k: v for k, v in TINY.items() if k != "data"},
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "test auc" in result.output

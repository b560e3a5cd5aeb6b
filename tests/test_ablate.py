"""`expctl ablate`: variants, the effect arithmetic, and an end-to-end tiny ablation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from expctl.ablate import REGULARISERS, summarise, variants
from expctl.cli import cli
from expctl.spec import spec_from_dict


def test_variants_switch_off_each_regulariser_in_use() -> None:
    spec = spec_from_dict(
        {
            "model": {"dropout": [0.2, 0.0], "l2": 1e-4, "weight_clip": 0.5},
            "train": {
                "label_smoothing": 0.1,
                "early_stopping": {"monitor": "val_loss"},
                "adversarial": {"epsilon": 0.1},
            },
        }
    )
    found = dict(variants(spec))
    assert found == {
        "full": [],
        "no dropout": ["model.dropout=0.0"],
        "no l2": ["model.l2=0.0"],
        "no weight_clip": ["model.weight_clip=null"],
        "no label_smoothing": ["train.label_smoothing=0.0"],
        "no adversarial": ["train.adversarial=null"],
        "no early_stopping": ["train.early_stopping=null"],
    }
    # every variant is a valid spec without the regulariser
    for name, off in found.items():
        if name == "full":
            continue
        regulariser = next(r for r in REGULARISERS if f"no {r.name}" == name)
        from expctl.spec.load import validate
        from expctl.spec.yamlio import Document

        changed = validate(Document(spec.model_dump(mode="python"), "<t>"), off)
        assert not regulariser.on(changed), name


def test_cnn_conv_regularisers() -> None:
    spec = spec_from_dict(
        {
            "data": {"source": "digits", "images": True},
            "model": {"type": "cnn", "conv": [{"filters": 4, "dropout": 0.2, "l2": 0.01}]},
        }
    )
    found = dict(variants(spec))
    assert {"no conv_dropout", "no conv_l2"} <= set(found)


def test_effects_by_hand() -> None:
    results = {
        "full": [{"val": 0.90, "test": 0.91}, {"val": 0.92, "test": 0.93}],
        "no dropout": [{"val": 0.88, "test": 0.90}, {"val": 0.88, "test": 0.90}],
        "no l2": [{"val": 0.93, "test": 0.92}, {"val": 0.91, "test": 0.92}],
    }
    rows = summarise(results, "auc")
    assert [r["variant"] for r in rows] == ["full", "no dropout", "no l2"]  # ranked by val effect
    dropout, l2 = rows[1], rows[2]
    assert dropout["val_effect"] == pytest.approx(0.91 - 0.88)
    assert dropout["test_effect"] == pytest.approx(0.92 - 0.90)
    sd_full = math.sqrt(2) * 0.01  # sd of (0.90, 0.92)
    assert dropout["val_effect_se"] == pytest.approx(math.sqrt(sd_full**2 / 2))
    assert l2["val_effect"] == pytest.approx(0.91 - 0.92)  # l2 hurts here: ranked last
    # a loss-like validation metric: lower is better, so a rise without it is a positive effect
    mae = summarise(
        {"full": [{"val": 1.0, "test": 0.5}], "no l2": [{"val": 1.5, "test": 0.4}]},
        "r2",
        "val_mae",
        val_higher_is_better=False,
    )
    assert mae[1]["val_effect"] == pytest.approx(0.5)


def test_ablate_end_to_end(write_spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["ablate", str(write_spec()), "--output-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (folder,) = list(out.iterdir())
    data = json.loads((folder / "ablation.json").read_text())
    assert data["rows"][0]["variant"] == "full"
    assert {r["variant"] for r in data["rows"]} == {"full", "no dropout", "no l2"}
    runs = sorted((folder / "runs").iterdir())
    assert len(runs) == 3
    # each variant's run is a normal run whose spec has the regulariser off
    specs = [(r / "spec.yaml").read_text() for r in runs]
    assert sum("dropout: 0.0" in s for s in specs) == 1
    assert (folder / "plots" / "ablation.png").stat().st_size > 1000
    assert "effect on val_auc" in result.output
    compared = CliRunner().invoke(cli, ["compare", str(folder / "runs")])
    assert compared.exit_code == 0, compared.output


def test_a_spec_without_regularisers_is_refused(write_spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    spec = write_spec({"model": {"dropout": 0.0, "l2": 0.0}})
    result = CliRunner().invoke(cli, ["ablate", str(spec), "--output-dir", str(out)])
    assert result.exit_code == 2 and "uses no regulariser to ablate" in result.output
    assert not out.exists()

"""`expctl sweep`: spaces, samplers, the trial budget, workers, dead-worker retry and outputs."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import TINY, deep_merge
from optuna.trial import TrialState

from expctl.cli import cli
from expctl.errors import SpecError
from expctl.spec.sweep import METHODS, PRUNER_NAMES, Document, sweep_from_dict
from expctl.sweep.pruners import PRUNERS
from expctl.sweep.samplers import SAMPLERS
from expctl.sweep.space import Space, check_space
from expctl.sweep.storage import open_storage, reap_dead_trials
from expctl.sweep.study import Outcome, init_study, load_study, worker_loop
from tests.signals import frozen

ROOT = Path(__file__).resolve().parents[1]

SPACE = {
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "train.optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
    "model.hidden": {"type": "choice", "values": [[8], [16, 8]]},
}


def sweep_data(**block: Any) -> dict[str, Any]:
    sweep = {"method": "random", "trials": 4, "metric": "val_auc", "space": SPACE, **block}
    return {**TINY, "sweep": sweep}


def loaded(data: dict[str, Any], tmp_path: Path):
    return sweep_from_dict(data, Document(data, "test.yaml"), tmp_path)


def fake_objective(trial: Any, params: dict[str, Any]) -> Outcome:
    """A smooth function of the parameters, so TPE has something to learn (no training)."""
    lr = math.log10(params.get("train.optimizer.learning_rate", 0.01))
    dropout = params.get("model.dropout", 0.2)
    value = -((dropout - 0.2) ** 2) - (lr + 2) ** 2 + len(params.get("model.hidden", []))
    return Outcome(TrialState.COMPLETE, value=value)


def run_loop(data: dict[str, Any], tmp_path: Path, name: str = "s") -> optuna.Study:
    lsweep = loaded(data, tmp_path)
    space = Space(lsweep.sweep.space)
    sweep_dir = tmp_path / name
    info = open_storage(None, sweep_dir)
    study = load_study(lsweep, info, name)
    init_study(study, lsweep, space)
    ran = worker_loop(study, info, space, lsweep.sweep.n_trials, sweep_dir, fake_objective)
    assert ran == lsweep.sweep.n_trials
    return study


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, data: dict[str, Any], name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- spec and space


def test_registries_match_the_schema() -> None:
    assert tuple(SAMPLERS) == METHODS
    assert tuple(PRUNERS) == PRUNER_NAMES


def test_grid_covers_exactly_the_cartesian_product(tmp_path: Path) -> None:
    space = {
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.1},
        "train.batch_size": {"type": "int", "low": 32, "high": 96, "step": 32},
        "model.hidden": {"type": "choice", "values": [[8], [16, 8]]},
    }
    data = sweep_data(method="grid", trials=None, space=space)
    data["sweep"].pop("trials")
    assert loaded(data, tmp_path).sweep.n_trials == 4 * 3 * 2
    study = run_loop(data, tmp_path)
    trials = study.get_trials()
    got = [
        (t.params["model.dropout"], t.params["train.batch_size"], t.params["model.hidden"])
        for t in trials
    ]
    expected = itertools.product([0.0, 0.1, 0.2, 0.3], [32, 64, 96], ["[8]", "[16, 8]"])
    assert len(got) == 24
    assert sorted(got) == sorted(expected)
    assert all(t.state == TrialState.COMPLETE for t in trials)


@pytest.mark.parametrize("method", ["random", "bayes"])
def test_random_and_bayes_are_reproducible_with_a_seed(method: str, tmp_path: Path) -> None:
    def sequence(seed: int, name: str) -> list[dict[str, Any]]:
        study = run_loop(sweep_data(method=method, trials=14, seed=seed), tmp_path, name)
        return [t.params for t in study.get_trials()]

    first, again, other = sequence(0, "a"), sequence(0, "b"), sequence(1, "c")
    assert first == again
    assert first != other
    assert len({json.dumps(p, sort_keys=True) for p in first}) == 14  # no repeated point


def test_grid_refuses_a_continuous_dimension_and_a_wrong_trial_count(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="grid needs a step"):
        loaded(sweep_data(method="grid"), tmp_path)
    space = {"model.hidden": {"type": "choice", "values": [[8], [16]]}}
    with pytest.raises(SpecError, match="Cartesian product"):
        loaded(sweep_data(method="grid", trials=3, space=space), tmp_path)


def test_sweep_block_errors_name_the_line_and_the_closest_key(tmp_path: Path) -> None:
    data = sweep_data()
    data["sweep"]["metrc"] = "val_auc"
    path = write(tmp_path, data)
    result = invoke("sweep", str(path), "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 2
    line = path.read_text().splitlines().index("  metrc: val_auc") + 1
    assert f"sweep.yaml:{line}: sweep.metrc: unknown key (did you mean 'metric'?)" in result.output
    data = sweep_data(metric="test_auc")
    assert invoke("sweep", str(write(tmp_path, data)), "--dry-run").exit_code == 2


def test_a_space_that_can_produce_an_invalid_spec_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    space = {**SPACE, "model.dropout": {"type": "float", "low": 0.0, "high": 1.0}}
    path = write(tmp_path, sweep_data(space=space))
    out = tmp_path / "out"
    result = invoke("sweep", str(path), "--output-dir", str(out))
    assert result.exit_code == 2
    assert "the space can produce an invalid spec" in result.output
    assert "model.dropout" in result.output and "[0, 1)" in result.output
    assert not out.exists()
    # a key the schema does not know, with the schema's hint
    bad = {"model.dropuot": {"type": "float", "low": 0.0, "high": 0.5}}
    result = invoke("sweep", str(write(tmp_path, sweep_data(space=bad))))
    assert result.exit_code == 2 and "did you mean 'dropout'" in result.output


def test_corners_include_every_choice_and_both_ends(tmp_path: Path) -> None:
    lsweep = loaded(sweep_data(), tmp_path)
    space = Space(lsweep.sweep.space)
    corners = list(space.corners())
    assert len(corners) == 2 * 2 * 2
    assert {c["model.dropout"] for c in corners} == {0.0, 0.5}
    assert check_space(lsweep, space) == 8


# ------------------------------------------------------------------ pruning and the objective


class FakeTrial:
    def __init__(self, prune_at: int | None) -> None:
        self.reports: list[tuple[float, int]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.prune_at is not None and self.reports[-1][1] >= self.prune_at


def test_pruning_callback_reports_each_epoch_and_stops_when_told() -> None:
    from expctl.sweep.callback import PruningCallback

    class Model:
        stop_training = False

    trial = FakeTrial(prune_at=2)
    callback = PruningCallback(trial, "val_auc")
    callback.set_model(Model())
    callback.on_epoch_end(0, {"val_auc": 0.6, "loss": 1.0})
    assert not callback.model.stop_training
    callback.on_epoch_end(1, {"val_auc": float("nan")})  # not finite: not reported
    callback.on_epoch_end(2, {"val_auc": 0.7})
    assert trial.reports == [(0.6, 1), (0.7, 3)]
    assert callback.model.stop_training and callback.pruned_at == 3
    assert "epoch 3" in callback.reason
    silent = PruningCallback(FakeTrial(prune_at=1), "val_auc", enabled=False)
    silent.set_model(Model())
    silent.on_epoch_end(0, {"val_auc": 0.6})
    assert silent.trial.reports == [] and silent.pruned_at is None


def test_objective_is_the_validation_metric_at_the_best_epoch(tmp_path: Path) -> None:
    from expctl.sweep.objective import objective_value
    from expctl.sweep.study import FatalSweepError

    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss,val_auc\n1,0.7,0.69,0.60\n2,0.6,0.55,0.75\n3,0.5,0.58,0.80\n"
    )
    (tmp_path / "metrics.json").write_text(json.dumps({"auc": 0.99, "best_epoch": 2}))
    assert objective_value(tmp_path, "val_auc") == 0.75  # epoch 2, not the last, not test
    (tmp_path / "metrics.json").unlink()
    assert objective_value(tmp_path, "val_auc") == 0.80  # no best epoch recorded: the last
    with pytest.raises(FatalSweepError, match="val_loss, val_auc"):
        objective_value(tmp_path, "val_mae")


# ------------------------------------------------------------------------- dead workers (unit)


def test_a_trial_whose_worker_died_is_failed_and_queued_with_the_same_params(
    tmp_path: Path,
) -> None:
    lsweep = loaded(sweep_data(trials=3), tmp_path)
    space = Space(lsweep.sweep.space)
    info = open_storage(None, tmp_path / "s")
    study = load_study(lsweep, info, "s")
    init_study(study, lsweep, space)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask()
    params = space.suggest(trial)
    trial.set_user_attr("worker", {"host": os.uname().nodename, "pid": dead.pid, "start": "1"})
    alive = study.ask()
    space.suggest(alive)
    from expctl.sweep.storage import worker_stamp

    alive.set_user_attr("worker", worker_stamp())
    assert reap_dead_trials(study, info) == [trial.number]
    trials = study.get_trials()
    assert trials[trial.number].state == TrialState.FAIL
    assert "worker died" in trials[trial.number].user_attrs["error"]
    assert trials[alive.number].state == TrialState.RUNNING  # this process is alive
    (retry,) = [t for t in trials if t.state == TrialState.WAITING]
    assert space.decode(retry.params) == params
    assert reap_dead_trials(study, info) == []
    # the budget counts the retry as the same trial: 2 used of 3, so one more new trial
    from expctl.sweep.study import budget_used

    assert budget_used(trials) == 2


# -------------------------------------------------------------------------------- end to end


def _path_value(spec: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        spec = spec[part]
    return spec


def assert_rows_are_the_trials(sweep_dir: Path, metric: str = "val_auc") -> None:
    """Each sweep.csv row is its trial run: same status, the parameters of its spec.yaml, and the
    validation metric of its history.csv at the run's best epoch as the value."""
    table = pd.read_csv(sweep_dir / "sweep.csv")
    assert sorted(table["run"]) == sorted(p.name for p in (sweep_dir / "trials").iterdir())
    for _, row in table.iterrows():
        run = sweep_dir / "trials" / row["run"]
        assert row["run"].split("-")[-2] == f"t{row['trial']:04d}"
        status = json.loads((run / "status.json").read_text())["status"]
        assert {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}[
            row["state"]
        ] == status
        spec = yaml.safe_load((run / "spec.yaml").read_text())
        for name in SPACE:
            cell = row[name]
            wanted = _path_value(spec, name)
            assert (json.loads(cell) if isinstance(cell, str) else cell) == pytest.approx(wanted)
        if row["state"] == "COMPLETE":
            history = pd.read_csv(run / "history.csv")
            best = json.loads((run / "metrics.json").read_text())["best_epoch"]
            at_best = history.loc[history["epoch"] == best, metric].item()
            assert row["value"] == pytest.approx(at_best, rel=1e-12), row["run"]


def test_sweep_on_sqlite_writes_runs_table_best_spec_and_plots(tmp_path: Path) -> None:
    data = sweep_data(trials=2)
    path = write(tmp_path, data)
    out = tmp_path / "out"
    db = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["sweep", str(path), "--output-dir", str(out), "--storage", db, "--study", "st"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    sweep_dir = out / "st"
    table = pd.read_csv(sweep_dir / "sweep.csv")
    assert list(table.columns) == [
        "trial",
        "state",
        "value",
        "duration_s",
        "run",
        "host",
        *SPACE,
    ]
    assert set(table["host"]) == {socket.gethostname()}  # the worker stamp's host
    assert list(table["trial"]) == [0, 1]
    assert set(table["state"]) == {"COMPLETE"}
    runs = sorted(p.name for p in (sweep_dir / "trials").iterdir())
    assert sorted(table["run"]) == runs
    # every row is its trial run; the value is the run's val_auc at its best epoch
    assert_rows_are_the_trials(sweep_dir)
    row = table.iloc[0]
    history = pd.read_csv(sweep_dir / "trials" / row["run"] / "history.csv")
    best = json.loads((sweep_dir / "trials" / row["run"] / "metrics.json").read_text())
    assert row["value"] == pytest.approx(
        history.loc[history["epoch"] == best["best_epoch"], "val_auc"].item()
    )
    # best.yaml: the best trial's parameters, no sweep block, a valid spec
    best_row = table.loc[table["value"].idxmax()]
    best_spec = yaml.safe_load((sweep_dir / "best.yaml").read_text())
    assert "sweep" not in best_spec
    assert best_spec["model"]["dropout"] == pytest.approx(best_row["model.dropout"])
    assert invoke("validate", str(sweep_dir / "best.yaml")).exit_code == 0
    for name in ("optimization_history", "parallel_coordinates", "slices", "param_importances"):
        assert (sweep_dir / "plots" / f"{name}.png").stat().st_size > 1000
    # trials draw no plots unless sweep.plots is true (matplotlib is ~1 s of a short trial)
    assert not any(list((sweep_dir / "trials" / r / "plots").iterdir()) for r in runs)
    assert (sweep_dir / "trials" / runs[0] / "metrics.json").is_file()
    # the views work on trials
    assert invoke("list", str(sweep_dir / "trials")).exit_code == 0
    assert invoke("compare", *(str(sweep_dir / "trials" / r) for r in runs)).exit_code == 0
    # the same command again resumes: the budget is used, nothing new runs
    again = invoke(*args)
    assert again.exit_code == 0 and "resuming (2 trials recorded)" in again.output
    assert len(list((sweep_dir / "trials").iterdir())) == 2
    # a larger budget extends the study; a different space is refused
    more = invoke(*args, "--set", "sweep.trials=3")
    assert more.exit_code == 0, more.output
    assert list(pd.read_csv(sweep_dir / "sweep.csv")["trial"]) == [0, 1, 2]
    assert set(pd.read_csv(sweep_dir / "sweep.csv")["state"]) == {"COMPLETE"}
    assert_rows_are_the_trials(sweep_dir)
    other = deep_merge(data, {"sweep": {"space": {"model.dropout": {"high": 0.4}}}})
    changed = invoke(*args[:1], str(write(tmp_path, other, "other.yaml")), *args[2:])
    assert changed.exit_code == 2 and "different spec" in changed.output


@pytest.mark.slow
def test_pruned_trials_are_recorded_with_their_reason(tmp_path: Path) -> None:
    # the median pruner judges from the 6th trial on; with lr up to 10 some trials are bad
    space = {
        "train.optimizer.learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}
    }
    data = deep_merge(sweep_data(trials=9, pruner="median", space=space), {"train": {"epochs": 4}})
    out = tmp_path / "out"
    result = invoke("sweep", str(write(tmp_path, data)), "--output-dir", str(out), "-q")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "tiny" / "sweep.csv")
    pruned = table[table["state"] == "PRUNED"]
    assert len(pruned) >= 1, table
    for run in pruned["run"]:
        status = json.loads((out / "tiny" / "trials" / run / "status.json").read_text())
        assert status["status"] == "pruned" and "median pruner" in status["error"]
    assert invoke("show", str(out / "tiny" / "trials" / pruned["run"].iloc[0])).exit_code == 0


def test_dry_run_prints_space_trials_parameters_and_time_and_writes_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    path = write(tmp_path, sweep_data(trials=20))
    result = invoke("sweep", str(path), "--dry-run", "--output-dir", str(out), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "20 trials" in result.output
    # hidden [8] on 7 jet features: 7*8+8 + 8+1 = 73; [16, 8]: 7*16+16 + 16*8+8 + 9 = 273
    assert "model parameters: 73 to 273" in result.output
    assert "estimated total:" in result.output
    assert "model.hidden" in result.output
    assert not out.exists()


def test_sweep_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom expctl.cli import cli\n"
        "assert CliRunner().invoke(cli, ['sweep', '--help']).exit_code == 0\n"
        "print(','.join(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def _cli(*args: str, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "expctl", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


@pytest.mark.slow
def test_two_workers_complete_eight_trials_with_none_lost_or_duplicated(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = write(tmp_path, sweep_data(trials=8))
    proc = _cli("sweep", str(path), "--workers", "2", "--output-dir", str(out))
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    table = pd.read_csv(out / "tiny" / "sweep.csv")
    assert list(table["trial"]) == list(range(8))
    assert set(table["state"]) == {"COMPLETE"}
    assert table["run"].is_unique
    assert not table[list(SPACE)].astype(str).duplicated().any()
    runs = sorted(p.name for p in (out / "tiny" / "trials").iterdir())
    assert sorted(table["run"]) == runs
    assert_rows_are_the_trials(out / "tiny")
    workers = {line.split("[worker ")[1][0] for line in output.splitlines() if "[worker" in line}
    assert workers == {"0", "1"}, output
    # the same 8 points as trial numbers 0..7 of one process: parameters depend on (seed, number)
    study = run_loop(sweep_data(trials=8), tmp_path, "serial")
    lsweep = loaded(sweep_data(trials=8), tmp_path)
    space = Space(lsweep.sweep.space)
    serial = [space.decode(t.params)["model.dropout"] for t in study.get_trials()]
    assert list(table["model.dropout"]) == pytest.approx(serial)


@pytest.mark.slow
def test_sigkill_of_a_worker_loses_no_trial_and_retries_the_killed_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # 12 epochs: most of each trial's time is spent where the worker can be killed mid-run
    data = deep_merge(sweep_data(trials=6), {"train": {"epochs": 12}})
    path = write(tmp_path, data)
    proc = _cli("sweep", str(path), "--workers", "2", "--output-dir", str(out))
    journal = out / "tiny" / "journal.log"
    victim = None
    try:
        while victim is None and proc.poll() is None:
            time.sleep(0.1)
            if not journal.exists():
                continue
            storage = optuna.storages.journal.JournalStorage(
                optuna.storages.journal.JournalFileBackend(str(journal))
            )
            try:
                study = optuna.load_study(study_name="tiny", storage=storage)
            except KeyError:
                continue
            complete = study.get_trials(states=(TrialState.COMPLETE,))
            for trial in study.get_trials(states=(TrialState.RUNNING,)):
                # mid-trial: after one completed trial, and once its run has written an epoch
                runs = list((out / "tiny" / "trials").glob(f"*-tiny-t{trial.number:04d}-*"))
                if not (complete and runs and (runs[0] / "history.csv").exists()):
                    continue
                pid = trial.user_attrs["worker"]["pid"]
                with frozen(pid):  # the worker cannot finish the run between this look and the kill
                    status = json.loads((runs[0] / "status.json").read_text())["status"]
                    if status == "running":  # else the run ended already: let it report, look again
                        victim = (trial.number, trial.params, pid)
                        os.kill(pid, signal.SIGKILL)
                if victim is not None:
                    break
        output, _ = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert victim is not None, "the sweep ended before a worker could be killed"
    assert proc.returncode == 0, output
    assert "killed by signal 9" in output
    table = pd.read_csv(out / "tiny" / "sweep.csv")
    number, params, _ = victim
    killed = table[table["trial"] == number].iloc[0]
    assert killed["state"] == "FAIL"
    # retried with the same parameters, and completed
    same = table[(table["model.dropout"] == params["model.dropout"]) & (table["trial"] != number)]
    assert list(same["state"]) == ["COMPLETE"]
    # no completed trial lost: 6 trials of the budget complete
    assert (table["state"] == "COMPLETE").sum() == 6
    run_status = json.loads(
        next((out / "tiny" / "trials").glob(f"*-tiny-t{number:04d}-*"))
        .joinpath("status.json")
        .read_text()
    )
    assert run_status["status"] == "failed" and "worker died" in run_status["error"]


def test_every_example_sweep_validates_with_a_valid_space() -> None:
    paths = sorted((ROOT / "experiments" / "sweeps").glob("*.yaml"))
    assert len(paths) == 3
    for path in paths:
        from expctl.spec.sweep import load_sweep_spec

        lsweep = load_sweep_spec(path)
        assert check_space(lsweep, Space(lsweep.sweep.space)) > 0, path

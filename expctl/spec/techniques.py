"""Spec sections of two training techniques: FGSM adversarial training and magnitude pruning.

`AdversarialSpec` is `train.adversarial` and `PruningSpec` is `train.pruning` (both optional,
None = off). Checks that need `train.epochs` are in `PruningSpec.epoch_problems`, for TrainSpec's
validator to call. Like `expctl.spec.schema`, this module imports no numpy, TensorFlow or Keras.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from expctl.spec.base import Bool, Float, Int, Section

_MAX_EPOCHS = 1_000_000


class AdversarialSpec(Section):
    """Train on clean and FGSM-perturbed inputs: loss = (1-w)·J(x) + w·J(x + δ).

    δ = ε·σ·sign(∇ₓJ(θ, x, y)), σ being each feature's training standard deviation (the model's
    standardisation layer; 1 when `data.standardize` is false). So ε is in units of the
    standardised input the network sees: exactly Goodfellow et al.'s FGSM on that input.
    """

    method: Literal["fgsm"] = Field("fgsm", description="fgsm: the fast gradient sign method")
    epsilon: Float = Field(
        0.01,
        gt=0,
        le=100,
        description="size of the perturbation, in standard deviations of each feature",
    )
    weight: Float = Field(
        0.5,
        ge=0,
        le=1,
        description="w in (1-w)·J(x) + w·J(x_adv); Goodfellow et al.'s α is 1-w (they use 0.5)",
    )


class PruningSpec(Section):
    """Magnitude pruning of the hidden layers' kernels with Zhu & Gupta's (2017) schedule.

    Epoch e (1-based) trains with pruned kernels of sparsity
    s(e) = s_f·(1 - (1 - (e - start_epoch)/(end_epoch - start_epoch))³) for start_epoch <= e <=
    end_epoch, 0 before and s_f after: epochs 1..start_epoch train the dense network, epoch
    end_epoch reaches the target. Pruning happens before each epoch (and every `frequency_steps`
    steps if given); the smallest |w| of each kernel are zeroed and stay zero.
    """

    target_sparsity: Float = Field(
        gt=0, lt=1, description="final fraction of zero weights in each pruned kernel (s_f)"
    )
    start_epoch: Int = Field(
        0, ge=0, le=_MAX_EPOCHS, description="epochs trained before pruning starts (t0)"
    )
    end_epoch: Int = Field(
        10,
        ge=1,
        le=_MAX_EPOCHS,
        description="the epoch that trains at the target sparsity; later epochs fine-tune",
    )
    frequency_steps: Int | None = Field(
        None,
        ge=1,
        description="also prune every this many optimizer steps (default: before each epoch only)",
    )
    prune_output: Bool = Field(False, description="prune the output layer's kernel too")

    @model_validator(mode="after")
    def _ordered(self) -> PruningSpec:
        if self.end_epoch <= self.start_epoch:
            raise ValueError(
                f"end_epoch ({self.end_epoch}) must be after start_epoch ({self.start_epoch})"
            )
        return self

    def epoch_problems(self, epochs: int, early_stopping_start: int | None = None) -> list[str]:
        """What is wrong with this pruning for `train.epochs` = `epochs` (empty if nothing).

        `early_stopping_start` is `train.early_stopping.start_from_epoch` when early stopping is
        on: it must be >= end_epoch - 1 (Keras counts the epochs it waits), or training may
        stop (or restore the weights of an epoch) before the target sparsity is reached.
        """
        problems = []
        if self.end_epoch > epochs:
            problems.append(
                f"train.pruning.end_epoch ({self.end_epoch}) must be at most train.epochs "
                f"({epochs}): epoch end_epoch is the first to train at the target sparsity"
            )
        if early_stopping_start is not None and early_stopping_start < self.end_epoch - 1:
            problems.append(
                f"train.early_stopping.start_from_epoch ({early_stopping_start}) must be at least "
                f"{self.end_epoch - 1} (train.pruning.end_epoch - 1): otherwise training may "
                "stop, or restore the weights of an epoch, before the target sparsity is reached"
            )
        return problems

"""The `model:` section: MLP, CNN and polynomial models, looked up by `type`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from expctl.spec.base import Bool, Float, Int, Section, tagged
from expctl.spec.datasets import LAYOUT_SHAPES
from expctl.spec.fields import ACTIVATIONS, INITIALIZERS, number_per_layer


class InitializerSpec(Section):
    """Initial weights: a Keras initializer whose spread is multiplied by `scale`."""

    name: Literal[INITIALIZERS] = "glorot_uniform"  # type: ignore[valid-type]
    scale: Float = Field(
        1.0, gt=0, le=1e3, description="multiplies the spread (std) of the initial weights"
    )


class HeadSpec(Section):
    """One output of a multitask model: its own target column, task, loss and metrics.

    The heads share the trunk (hidden layers); the training loss is Σ loss_weight·J_head, where a
    regression head's mean squared error is divided by its target's training variance (so it is
    dimensionless: 1 for always predicting the mean) and its output is in the target's units.
    """

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")] = Field(
        description="identifier: letters, digits, _ (names the output and its metrics)"
    )
    task: Literal["binary", "multiclass", "regression"]
    target: str = Field(min_length=1, description="the column (or generator output) it predicts")
    loss_weight: Float = Field(
        1.0,
        ge=0,
        le=1e6,
        description="weight of this head's loss; 0: the head is evaluated but not trained, "
        "so the trunk learns the other heads' tasks alone (a single-task baseline)",
    )


#: Data sources that have named columns, so model.heads can pick several targets.
HEAD_SOURCES = ("jets", "csv", "parquet")


class MlpModel(Section):
    """A multilayer perceptron: dense hidden layers, then an output head for the task."""

    type: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Strict(), Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [64, 64], max_length=64
    )
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    dropout: number_per_layer(0.0, 1.0, "dropout") = 0.0  # type: ignore[valid-type]
    l1: number_per_layer(0.0, None, "l1") = 0.0  # type: ignore[valid-type]
    l2: number_per_layer(0.0, None, "l2") = 0.0  # type: ignore[valid-type]
    initializer: InitializerSpec = InitializerSpec()
    weight_clip: Float | None = Field(
        None, gt=0, description="clip every kernel value to ±c after each update"
    )
    max_norm: Float | None = Field(
        None, gt=0, description="max-norm constraint on each unit's incoming weights"
    )
    input_noise: Float = Field(
        0.0,
        ge=0,
        le=1,
        description="std of Gaussian noise on the standardised inputs, training only",
    )
    weight_noise: Float = Field(
        0.0, ge=0, description="each training step uses θ+ε with ε drawn afresh; inference uses θ"
    )
    weight_noise_dist: Literal["gaussian", "uniform"] = Field(
        "gaussian", description="gaussian: ε ~ N(0, σ²); uniform: ε ~ U(-σ, σ), σ = weight_noise"
    )
    heads: list[HeadSpec] | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="multitask: outputs sharing the trunk; the first is the main one",
    )

    @model_validator(mode="after")
    def _distinct_heads(self) -> MlpModel:
        for key in ("name", "target"):
            values = [getattr(h, key) for h in self.heads or ()]
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"heads: two heads have the {key} {twice[0]!r}")
        if self.heads and not any(h.loss_weight > 0 for h in self.heads):
            raise ValueError("heads: every loss_weight is 0; at least one head must be trained")
        return self

    @model_validator(mode="after")
    def _one_value_per_layer(self) -> MlpModel:
        for key in ("dropout", "l1", "l2"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != len(self.hidden):
                raise ValueError(
                    f"{key} has {len(value)} values but hidden has {len(self.hidden)} layers: "
                    "give one number, or one per hidden layer"
                )
        return self

    def per_layer(self, key: str) -> list[float]:
        """The value of `dropout`, `l1` or `l2` for each hidden layer."""
        value = getattr(self, key)
        return list(value) if isinstance(value, list) else [value] * len(self.hidden)


class ConvLayerSpec(Section):
    """One convolution: `filters` kernels, then batch norm, the activation, max-pooling, dropout."""

    filters: Int = Field(ge=1, le=4096)
    kernel_size: Int = Field(3, ge=1, le=15)
    padding: Literal["same", "valid"] = Field(
        "same", description="same keeps height and width; valid shrinks them by kernel_size - 1"
    )
    batch_norm: Bool = Field(
        False, description="batch normalisation between the convolution and its activation"
    )
    pool: Int = Field(1, ge=1, le=8, description="max-pooling window after the layer; 1: none")
    dropout: Float = Field(0.0, ge=0, lt=1)
    l2: Float = Field(0.0, ge=0, description="L2 penalty on this layer's kernel")


FLIPS = ("none", "horizontal", "vertical", "horizontal_and_vertical")


class AugmentSpec(Section):
    """Random changes to each training image (Keras preprocessing layers); off at inference.

    Applied to the raw pixels (in [0, 1] for expctl's image sources) before standardisation;
    pixels moved in from outside the image are 0 (empty). A transformation is only harmless when
    the label does not change under it: a full-turn rotation or a flip turns a 6 into a 9 or
    mirrors letters, while jet images are (nearly) symmetric under both.
    """

    flip: Literal[FLIPS] = "none"  # type: ignore[valid-type]
    rotation: Float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="max angle as a fraction of a full turn (Keras): 0.05 is ±18°; 0.5 any angle",
    )
    translation: Float = Field(
        0.0, ge=0, le=0.5, description="max shift, as a fraction of the height and of the width"
    )
    zoom: Float = Field(
        0.0, ge=0, le=0.5, description="max zoom in or out, as a fraction of the size"
    )
    contrast: Float = Field(
        0.0, ge=0, le=1, description="scale each image's deviations from its mean by 1 ± this"
    )
    noise: Float = Field(0.0, ge=0, le=1, description="std of Gaussian noise added to every pixel")


class CnnModel(MlpModel):
    """A convolutional network for images: conv layers, then dense hidden layers as in `mlp`.

    `dropout`, `l1`, `l2` apply to the dense hidden layers (conv layers have their own),
    `weight_noise` to the dense layers only; `initializer`, `weight_clip` and `max_norm`
    (per filter) to every layer.
    """

    type: Literal["cnn"] = "cnn"  # type: ignore[assignment]
    hidden: list[Annotated[int, Strict(), Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [128], max_length=64
    )
    conv: list[ConvLayerSpec] = Field(
        default_factory=lambda: [
            ConvLayerSpec(filters=32, pool=2),
            ConvLayerSpec(filters=64, pool=2),
        ],
        min_length=1,
        max_length=32,
    )
    global_pool: Literal["none", "average", "max"] = Field(
        "none",
        description="how the last feature maps feed the dense layers: none flattens them",
    )
    augment: AugmentSpec = AugmentSpec()

    def shape_problems(self, shape: tuple[int, ...]) -> list[str]:
        """Problems with the conv layers for images of this (height, width, channels)."""
        height, width = shape[0], shape[1]
        for i, layer in enumerate(self.conv):
            if layer.padding == "valid":
                height, width = height - layer.kernel_size + 1, width - layer.kernel_size + 1
            if min(height, width) < 1:
                return [
                    f"model.conv[{i}]: a {shape[0]}x{shape[1]} image has no pixels left here "
                    f"(kernel_size {layer.kernel_size}, padding valid); "
                    "use padding same or fewer layers"
                ]
            height, width = height // layer.pool, width // layer.pool
            if min(height, width) < 1:
                return [
                    f"model.conv[{i}]: pool {layer.pool} leaves no pixels of the "
                    f"{shape[0]}x{shape[1]} image; use a smaller pool or fewer pooling layers"
                ]
        return []


class PolynomialModel(Section):
    """A linear model on polynomial features (Legendre polynomials) of each input, up to `degree`.

    The features of each input are P_1(z) .. P_degree(z) with z the standardised input over √3
    (a uniform input spans [-1, 1]); the span is that of x, x², ..., so this is polynomial
    regression, but well conditioned for gradient descent. `l2` penalises the output weights.
    """

    type: Literal["polynomial"] = "polynomial"
    degree: Int = Field(2, ge=1, le=30)
    l2: Float = Field(0.0, ge=0, description="L2 penalty on the coefficients (ridge)")
    initializer: InitializerSpec = InitializerSpec()
    input_noise: Float = Field(
        0.0,
        ge=0,
        le=1,
        description="std of Gaussian noise on the standardised inputs, training only",
    )

    @property
    def output_l2(self) -> float:
        """L2 penalty of the output layer (build_model reads it; an MLP has none)."""
        return self.l2


MODEL_TYPES: dict[str, type[Section]] = {
    "mlp": MlpModel,
    "cnn": CnnModel,
    "polynomial": PolynomialModel,
}

#: The feature layout each model type takes (see SOURCE_LAYOUTS).
MODEL_INPUTS: dict[str, str] = {"mlp": "table", "cnn": "image", "polynomial": "table"}


def layout_problem(model_type: str, layout: str, where: str) -> str | None:
    """Why `model.type` cannot take features of this layout (None if it can)."""
    wanted = MODEL_INPUTS.get(model_type)
    if wanted is None or layout == wanted:
        return None
    fits = [t for t, needs in MODEL_INPUTS.items() if needs == layout]
    hint = f"use model.type {' or '.join(fits)}" if fits else "no model type takes them"
    return (
        f"model.type {model_type} takes {LAYOUT_SHAPES[wanted]}, but {where} gives "
        f"{LAYOUT_SHAPES.get(layout, layout)}: {hint}"
    )


ModelSpec = tagged(MODEL_TYPES, "type", "mlp")

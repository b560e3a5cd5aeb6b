"""The spec as frozen pydantic models: every key, its type, range and default.

Each section forbids unknown keys. Variants (data sources, model types, optimizers) are tagged
unions looked up by their tag (`source`, `type`, `name`), so each variant only accepts its own
keys. This module imports no numpy, TensorFlow or Keras: it is cheap to import.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from expctl.spec.base import Bool, Float, Int, Section, tagged
from expctl.spec.schedules import SCHEDULES, ConstantSchedule, ScheduleSpec
from expctl.spec.techniques import AdversarialSpec, PruningSpec

#: Run names end up in directory names: no separators, no dots at the start, bounded length.
RunName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]

Task = Literal["auto", "binary", "multiclass", "regression"]

ACTIVATIONS = (
    "relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "linear",
)
INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "random_normal",
    "random_uniform",
    "constant",
    "zeros",
)
#: The columns of the built-in `jets` source (kept equal to expctl.data.jets by a test).
JET_COLUMNS = ("pt", "eta", "mass", "n_constituents", "width", "tau21", "c2", "energy")


def _per_layer(low: float, high: float | None, what: str) -> Any:
    """A number, or a list with one number per hidden layer, each in [low, high)."""

    def check(value: Any) -> float | list[float]:
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError(f"{what} must be a number or a non-empty list of numbers")
        out = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(
                    f"{what} must be a number or a list of numbers (one per hidden layer), got {v!r}"
                )
            if not math.isfinite(v):
                raise ValueError(f"{what} must be finite, got {v!r}")
            if v < low or (high is not None and v >= high):
                bound = f"in [{low:g}, {high:g})" if high is not None else f">= {low:g}"
                raise ValueError(f"{what} must be {bound}, got {v!r}")
            out.append(float(v))
        return out if isinstance(value, list) else out[0]

    schema = {
        "anyOf": [
            {"type": "number", "minimum": low} | ({"exclusiveMaximum": high} if high else {}),
            {"type": "array", "items": {"type": "number", "minimum": low}, "minItems": 1},
        ]
    }
    return Annotated[float | list[float], PlainValidator(check), WithJsonSchema(schema)]


# ----------------------------------------------------------------------------------------- data


class SplitSpec(Section):
    """Fractions of the events in the train, validation and test splits (they sum to 1)."""

    train: Float = Field(0.6, gt=0, lt=1)
    val: Float = Field(0.2, ge=0, lt=1)
    test: Float = Field(0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSpec:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class DataCommon(Section):
    """Keys every data source has."""

    split: SplitSpec = SplitSpec()
    task: Task = Field(
        "auto", description="binary | multiclass | regression; auto infers it from the target"
    )
    standardize: Bool = Field(
        True, description="standardise features with mean/std of the training split"
    )
    seed: Int | None = Field(
        None,
        ge=0,
        lt=2**32,
        description="seed of data generation, subsampling and split; default: the run's seed",
    )
    label_noise: Float = Field(
        0.0, ge=0, lt=1, description="flip this fraction of the training labels (never val/test)"
    )
    nan: Literal["error", "drop", "zero", "mean"] = Field(
        "error",
        description="NaN or infinite features: error (names the columns), drop the events, or "
        "replace them by 0 or by the column's mean on the training split",
    )

    def layout(self) -> str:
        """What the features look like: "table" or "image" (see SOURCE_LAYOUTS)."""
        return SOURCE_LAYOUTS[self.source]  # type: ignore[attr-defined]


class JetsData(DataCommon):
    """Built-in synthetic W-jet vs QCD-jet features (see docs/jets.md)."""

    source: Literal["jets"] = "jets"
    n_samples: Int = Field(20000, ge=50, le=50_000_000)
    signal_fraction: Float = Field(0.5, gt=0, lt=1)
    target: Literal["label", "energy"] = "label"
    features: list[Literal[JET_COLUMNS]] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="default: every observable (all but energy and label)"
    )


class DigitsData(DataCommon):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

    As 64 features (pixels 0..16) for an `mlp`, or with `images: true` as (n, 8, 8, 1) images
    with pixels scaled to [0, 1] for a `cnn`.
    """

    source: Literal["digits"] = "digits"
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")
    images: Bool = Field(
        False, description="true: (n, 8, 8, 1) images in [0, 1] for a cnn; false: 64 features"
    )

    def layout(self) -> str:
        return "image" if self.images else "table"


class TableFile(DataCommon):
    """A table on disk: one row per event, one column per feature."""

    path: str = Field(
        min_length=1, description="relative paths: spec folder, then $EXPCTL_DATA_DIR"
    )
    target: str = Field(min_length=1)
    features: list[str] | None = Field(None, min_length=1, description="default: all other columns")
    weight: str | None = Field(
        None,
        min_length=1,
        description="column of per-event weights, used in the loss and every metric",
    )
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")


class CsvData(TableFile):
    source: Literal["csv"] = "csv"


class ParquetData(TableFile):
    source: Literal["parquet"] = "parquet"


class NpzData(DataCommon):
    """A NumPy .npz archive (never unpickled): features and target as two named arrays."""

    source: Literal["npz"] = "npz"
    path: str = Field(min_length=1)
    x: str = Field(
        "x", min_length=1, description="name of the feature array (n_events, n_features)"
    )
    y: str = Field("y", min_length=1, description="name of the target array (n_events,)")
    weight: str | None = Field(
        None, min_length=1, description="name of an array of per-event weights"
    )
    n_samples: Int | None = Field(None, ge=50)


class Hdf5Data(DataCommon):
    """An HDF5 file (h5py): a table (`table` + `target`), or feature and target arrays (`x`, `y`).

    A table is a compound dataset (one field per column) or a group of equal-length 1-D datasets
    (one per column); `features`, `target` and `weight` then name its columns. Arrays are two
    datasets: `x` of shape (n_events, n_features) and `y` of shape (n_events,), and `weight` names
    a third of per-event weights.
    """

    source: Literal["hdf5"] = "hdf5"
    path: str = Field(
        min_length=1, description="relative paths: spec folder, then $EXPCTL_DATA_DIR"
    )
    table: str | None = Field(
        None,
        min_length=1,
        description="compound dataset or group of 1-D datasets, one per column (e.g. /events)",
    )
    target: str | None = Field(None, min_length=1, description="the table's target column")
    features: list[str] | None = Field(
        None, min_length=1, description="the table's feature columns; default: all other columns"
    )
    x: str | None = Field(
        None, min_length=1, description="dataset of features (n_events, n_features)"
    )
    y: str | None = Field(None, min_length=1, description="dataset of targets (n_events,)")
    weight: str | None = Field(
        None,
        min_length=1,
        description="per-event weights: a column of the table, or a dataset next to x and y",
    )
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")

    @model_validator(mode="after")
    def _one_layout(self) -> Hdf5Data:
        if self.table is not None:
            if self.x is not None or self.y is not None:
                raise ValueError("give table (with target) or x and y, not both")
            if self.target is None:
                raise ValueError("table needs target: the column to predict")
        else:
            if self.x is None or self.y is None:
                raise ValueError(
                    "give table: (a compound dataset or a group of columns) with target:, "
                    "or x: and y: (feature and target datasets)"
                )
            if self.target is not None or self.features is not None:
                raise ValueError(
                    "target and features name table columns; with x and y leave them out"
                )
        return self


class RootFile(Section):
    """One ROOT file of a `root` source, with the label its events get (without data.target)."""

    path: str = Field(
        min_length=1, description="relative paths: spec folder, then $EXPCTL_DATA_DIR"
    )
    label: Int | str | None = Field(
        None, description="target of every event of this file (e.g. 1 signal, 0 background)"
    )
    tree: str | None = Field(None, min_length=1, description="default: data.tree")


class RootData(DataCommon):
    """TTrees of ROOT files read with uproot (`pip install 'expctl[root]'`).

    Branches are the features; the target is a branch (`target`) or each file's `label`, so a
    signal and a background file (or several of each) make a classification data set.
    """

    source: Literal["root"] = "root"
    files: list[RootFile] = Field(min_length=1, max_length=1000)
    tree: str = Field("Events", min_length=1, description="TTree name (a file may override it)")
    features: list[str] | None = Field(
        None,
        min_length=1,
        description="branches; default: every numeric scalar branch but target and weight",
    )
    target: str | None = Field(
        None, min_length=1, description="branch to predict; default: each file's label"
    )
    weight: str | None = Field(None, min_length=1, description="branch of per-event weights")
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")

    @model_validator(mode="after")
    def _labels(self) -> RootData:
        labelled = [f.label is not None for f in self.files]
        if self.target is None and not all(labelled):
            raise ValueError(
                "without target: (a branch) every file needs a label:, "
                "e.g. files: [{path: sig.root, label: 1}, {path: bkg.root, label: 0}]"
            )
        if self.target is not None and any(labelled):
            raise ValueError("give target: (a branch) or a label: per file, not both")
        return self


class MnistData(DataCommon):
    """MNIST from a Keras-layout .npz (x_train, y_train, x_test, y_test), pixels scaled to [0, 1].

    The official train and test sets are joined and split again by `split` (seeded, stratified).
    """

    source: Literal["mnist"] = "mnist"
    path: str = Field(
        "mnist.npz",
        min_length=1,
        description="relative paths: spec folder, then $EXPCTL_DATA_DIR, then Keras' dataset cache",
    )
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")
    download: Bool = Field(
        False,
        description="when the file is found nowhere, let Keras download MNIST (needs the internet)",
    )


class JetImagesData(DataCommon):
    """Built-in synthetic calorimeter jet images: 2-prong W jets (signal) vs 1-prong QCD jets."""

    source: Literal["jet_images"] = "jet_images"
    n_samples: Int = Field(20000, ge=50, le=1_000_000)
    image_size: Int = Field(
        25, ge=8, le=128, description="pixels per side; the image always spans ±1.25 in η and φ"
    )
    signal_fraction: Float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _bounded_memory(self) -> JetImagesData:
        pixels = self.n_samples * self.image_size**2
        if pixels > MAX_GENERATED_PIXELS:
            raise ValueError(
                f"n_samples x image_size² is {pixels:,} pixels, over {MAX_GENERATED_PIXELS:,} "
                f"({MAX_GENERATED_PIXELS * 4 / 1e9:g} GB as float32): use fewer or smaller images"
            )
        return self


#: Upper bound on the pixels a built-in image generator may produce (float32: 2 GB).
MAX_GENERATED_PIXELS = 500_000_000


class PolynomialData(DataCommon):
    """Built-in regression data: y = a known polynomial of x + N(0, sigma²), x uniform in a range.

    Give the `coefficients` (lowest order first), or a `degree` for N(0, 1) coefficients drawn
    from the data seed. The truth is known, so `expctl biasvar` reports noise and bias² apart.
    """

    source: Literal["polynomial"] = "polynomial"
    coefficients: list[Float] | None = Field(
        None, min_length=1, max_length=21, description="c0, c1, ...: y = c0 + c1 x + c2 x² + ..."
    )
    degree: Int | None = Field(
        None, ge=0, le=20, description="degree of random N(0, 1) coefficients; default 2"
    )
    sigma: Float = Field(0.3, ge=0, description="standard deviation of the Gaussian noise on y")
    n_samples: Int = Field(500, ge=50, le=10_000_000)
    x_min: Float = -1.0
    x_max: Float = 1.0
    task: Literal["auto", "regression"] = "regression"

    @model_validator(mode="after")
    def _range(self) -> PolynomialData:
        if not self.x_min < self.x_max:
            raise ValueError(f"x_min must be below x_max, got {self.x_min:g} >= {self.x_max:g}")
        if self.coefficients is not None and self.degree is not None:
            raise ValueError("give coefficients or degree, not both")
        return self


DATA_SOURCES: dict[str, type[DataCommon]] = {
    "jets": JetsData,
    "digits": DigitsData,
    "csv": CsvData,
    "parquet": ParquetData,
    "npz": NpzData,
    "hdf5": Hdf5Data,
    "root": RootData,
    "mnist": MnistData,
    "jet_images": JetImagesData,
    "polynomial": PolynomialData,
}

#: What each source's features look like: a "table" (n_events, n_features) or "image"s
#: (n_events, height, width, channels). Models say which layout they take in MODEL_INPUTS.
SOURCE_LAYOUTS: dict[str, str] = {
    "jets": "table",
    "digits": "table",
    "csv": "table",
    "parquet": "table",
    "npz": "table",
    "hdf5": "table",
    "root": "table",
    "mnist": "image",
    "jet_images": "image",
    "polynomial": "table",
}
LAYOUT_SHAPES: dict[str, str] = {
    "table": "a table of features (n_events, n_features)",
    "image": "images (n_events, height, width, channels)",
}


# ---------------------------------------------------------------------------------------- model


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
    dropout: _per_layer(0.0, 1.0, "dropout") = 0.0  # type: ignore[valid-type]
    l1: _per_layer(0.0, None, "l1") = 0.0  # type: ignore[valid-type]
    l2: _per_layer(0.0, None, "l2") = 0.0  # type: ignore[valid-type]
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


# ------------------------------------------------------------------------------------- training


class OptimizerBase(Section):
    """Keys every optimizer has."""

    learning_rate: Float = Field(1e-3, gt=0, le=100)
    clipnorm: Float | None = Field(None, gt=0, description="clip each gradient to this L2 norm")
    clipvalue: Float | None = Field(None, gt=0, description="clip each gradient element to ±value")


class SgdOptimizer(OptimizerBase):
    name: Literal["sgd"] = "sgd"
    learning_rate: Float = Field(1e-2, gt=0, le=100)
    momentum: Float = Field(0.0, ge=0, lt=1)
    nesterov: Bool = False


class AdagradOptimizer(OptimizerBase):
    name: Literal["adagrad"] = "adagrad"
    learning_rate: Float = Field(1e-2, gt=0, le=100)
    initial_accumulator_value: Float = Field(0.1, ge=0)
    epsilon: Float = Field(1e-7, gt=0)


class RmspropOptimizer(OptimizerBase):
    name: Literal["rmsprop"] = "rmsprop"
    rho: Float = Field(0.9, gt=0, lt=1)
    momentum: Float = Field(0.0, ge=0, lt=1)
    epsilon: Float = Field(1e-7, gt=0)


class AdamOptimizer(OptimizerBase):
    name: Literal["adam"] = "adam"
    beta_1: Float = Field(0.9, ge=0, lt=1)
    beta_2: Float = Field(0.999, ge=0, lt=1)
    epsilon: Float = Field(1e-7, gt=0)
    amsgrad: Bool = False


class AdamwOptimizer(AdamOptimizer):
    name: Literal["adamw"] = "adamw"  # type: ignore[assignment]
    weight_decay: Float = Field(0.004, ge=0)


OPTIMIZERS: dict[str, type[OptimizerBase]] = {
    "sgd": SgdOptimizer,
    "adagrad": AdagradOptimizer,
    "rmsprop": RmspropOptimizer,
    "adam": AdamOptimizer,
    "adamw": AdamwOptimizer,
}


class EarlyStoppingSpec(Section):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs."""

    monitor: str = Field(
        "val_loss", description="a per-epoch log: val_loss, val_auc, val_accuracy, loss, ..."
    )
    patience: Int = Field(5, ge=0, le=100_000)
    min_delta: Float = Field(0.0, ge=0)
    restore_best: Bool = Field(True, description="end with the weights of the best epoch")
    mode: Literal["auto", "min", "max"] = "auto"
    start_from_epoch: Int = Field(0, ge=0, description="epochs to wait before monitoring starts")


# --------------------------------------------------------------------------------- tagged unions


DataSpec = tagged(DATA_SOURCES, "source", "jets")
ModelSpec = tagged(MODEL_TYPES, "type", "mlp")
OptimizerSpec = tagged(OPTIMIZERS, "name", "adam")

#: Where the tagged unions sit in the spec, with their tag key and registry (for error messages).
TAGGED: dict[tuple[str, ...], tuple[str, dict[str, type[BaseModel]]]] = {
    ("data",): ("source", DATA_SOURCES),
    ("model",): ("type", MODEL_TYPES),
    ("train", "optimizer"): ("name", OPTIMIZERS),
    ("train", "schedule"): ("name", SCHEDULES),
}


def _class_weight(value: Any) -> str | dict[int, float] | None:
    """`balanced`, or {class index: positive weight}."""
    if value is None or value == "balanced":
        return value
    if not isinstance(value, dict) or not value:
        raise ValueError(f"must be 'balanced' or a mapping {{class index: weight}}, got {value!r}")
    out = {}
    for key, weight in value.items():
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise ValueError(f"class {key!r}: keys are class indices 0, 1, ...")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ValueError(f"class {key}: weight must be a positive number, got {weight!r}")
        out[key] = float(weight)
    return out


ClassWeight = Annotated[
    Any,
    PlainValidator(_class_weight),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "balanced"},
                {
                    "type": "object",
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                },
                {"type": "null"},
            ]
        }
    ),
]


class TrainSpec(Section):
    """Optimizer, batch size, epochs and early stopping."""

    optimizer: OptimizerSpec = AdamOptimizer()  # type: ignore[valid-type]
    schedule: ScheduleSpec = Field(  # type: ignore[valid-type]
        ConstantSchedule(),
        description="how the learning rate changes; the base rate is optimizer.learning_rate",
    )
    batch_size: Int = Field(256, ge=1, le=10_000_000)
    epochs: Int = Field(30, ge=1, le=1_000_000)
    early_stopping: EarlyStoppingSpec | None = None
    shuffle: Bool = True
    label_smoothing: Float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="classification: hard targets 0/1 become ε and 1-ε (ε/(K-1) per wrong class)",
    )
    class_weight: ClassWeight = Field(
        None, description="balanced, or {class index: weight}; classification only"
    )
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "float32",
        description="mixed_*: layers compute in 16 bits, weights, outputs and metrics stay float32",
    )
    jit_compile: Bool = Field(
        False,
        description="compile the train step with XLA; such runs are not bit-reproducible "
        "(TensorFlow's op determinism excludes XLA)",
    )
    adversarial: AdversarialSpec | None = Field(
        None, description="FGSM adversarial training; metrics.json gets adversarial_* at ε"
    )
    pruning: PruningSpec | None = Field(
        None, description="magnitude pruning of the hidden kernels; metrics.json gets sparsity"
    )


class EvaluateSpec(Section):
    threshold: Float = Field(
        0.5, gt=0, lt=1, description="score above which an event is called signal"
    )
    fgsm_epsilons: list[Annotated[Float, Field(gt=0, le=100)]] = Field(
        [],
        max_length=32,
        description="FGSM strengths (standard deviations of each input) at which the test split "
        "is also attacked, with or without adversarial training; metrics.json gets robustness",
    )

    @model_validator(mode="after")
    def _distinct_epsilons(self) -> EvaluateSpec:
        if len(set(self.fgsm_epsilons)) != len(self.fgsm_epsilons):
            raise ValueError("fgsm_epsilons: each strength once")
        return self


class TrackingSpec(Section):
    """Where a run is also recorded: TensorBoard event files, an MLflow tracking server."""

    tensorboard: Bool = Field(
        True, description="write <run>/tensorboard/ event files (scalars each epoch)"
    )
    histograms: Bool = Field(
        False, description="also a histogram of every weight each epoch in TensorBoard"
    )
    mlflow: str | None = Field(
        None,
        min_length=1,
        description="MLflow tracking URI (file:///path, http://host:5000): export the finished run",
    )
    mlflow_experiment: str = Field(
        "expctl", min_length=1, description="MLflow experiment the run is logged to"
    )

    @model_validator(mode="after")
    def _histograms_need_tensorboard(self) -> TrackingSpec:
        if self.histograms and not self.tensorboard:
            raise ValueError("histograms: true needs tensorboard: true")
        return self


class Spec(Section):
    """A whole experiment: data, model, training and evaluation."""

    name: RunName = "run"
    seed: Int = Field(0, ge=0, lt=2**32)
    data: DataSpec = JetsData()  # type: ignore[valid-type]
    model: ModelSpec = MlpModel()  # type: ignore[valid-type]
    train: TrainSpec = TrainSpec()
    evaluate: EvaluateSpec = EvaluateSpec()
    tracking: TrackingSpec = TrackingSpec()

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        sched = self.train.schedule
        problems = sched.epoch_problems(self.train.epochs)
        if problems:
            raise ValueError(problems[0])
        if (
            sched.name == "plateau"
            and sched.monitor.startswith("val_")
            and self.data.split.val == 0
        ):
            raise ValueError(
                f"train.schedule.monitor is {sched.monitor!r} but data.split.val is 0: "
                "give the validation split a fraction, or monitor a training metric"
            )
        es = self.train.early_stopping
        if self.train.pruning is not None:
            problems = self.train.pruning.epoch_problems(
                self.train.epochs, es.start_from_epoch if es is not None else None
            )
            if problems:
                raise ValueError(problems[0])
        if es is not None and es.monitor.startswith("val_") and self.data.split.val == 0:
            raise ValueError(
                f"train.early_stopping.monitor is {es.monitor!r} but data.split.val is 0: "
                "give the validation split a fraction, or monitor a training metric"
            )
        return self

    @property
    def heads(self) -> list[HeadSpec]:
        """The model's multitask heads (empty: one output for data.target)."""
        return list(getattr(self.model, "heads", None) or [])

    @model_validator(mode="after")
    def _heads_fit(self) -> Spec:
        if not self.heads:
            return self
        if self.data.source not in HEAD_SOURCES:
            raise ValueError(
                f"model.heads: data.source {self.data.source} has no named columns to predict; "
                f"heads need one of {', '.join(HEAD_SOURCES)}"
            )
        for key, value in (
            ("data.label_noise", self.data.label_noise),
            ("train.class_weight", self.train.class_weight),
            ("train.adversarial", self.train.adversarial),
            ("evaluate.fgsm_epsilons", self.evaluate.fgsm_epsilons),
        ):
            if value:
                raise ValueError(f"{key} is not supported with model.heads (multitask)")
        if self.data.task != "auto":
            raise ValueError("data.task: with model.heads each head has its own task; leave it out")
        return self

    @model_validator(mode="after")
    def _model_fits_data(self) -> Spec:
        layout = self.data.layout()
        problem = layout_problem(self.model.type, layout, f"data.source {self.data.source}")
        if problem and "images" in type(self.data).model_fields:
            wanted = MODEL_INPUTS[self.model.type] == "image"
            problem += f", or set data.images: {'true' if wanted else 'false'}"
        if problem:
            raise ValueError(problem)
        return self

    def check_input_shape(self, shape: tuple[int, ...]) -> list[str]:
        """Problems with the model for one event's feature shape (known once data is read)."""
        layout = {1: "table", 3: "image"}.get(len(shape), f"arrays of shape {shape}")
        problem = layout_problem(self.model.type, layout, "the data")
        if problem:
            return [problem]
        check = getattr(self.model, "shape_problems", None)
        return check(tuple(shape)) if check is not None else []

    def check_task(self, task: str) -> list[str]:
        """Problems with keys that do not apply to the data's task (known once data is read)."""
        if self.heads:
            return self._check_heads()
        problems = []
        if task == "regression":
            for key, value in (
                ("train.label_smoothing", self.train.label_smoothing),
                ("data.label_noise", self.data.label_noise),
                ("train.class_weight", self.train.class_weight),
            ):
                if value:
                    problems.append(
                        f"{key}: applies to classification only, but the task is regression"
                    )
        es = self.train.early_stopping
        if es is not None and es.monitor not in monitor_choices(task):
            problems.append(
                f"train.early_stopping.monitor: {es.monitor!r} is not logged for a {task} task; "
                f"one of {', '.join(monitor_choices(task))}"
            )
        sched = self.train.schedule
        if sched.name == "plateau" and sched.monitor not in monitor_choices(task):
            problems.append(
                f"train.schedule.monitor: {sched.monitor!r} is not logged for a {task} task; "
                f"one of {', '.join(monitor_choices(task))}"
            )
        return problems

    def _check_heads(self) -> list[str]:
        problems = []
        heads = self.heads
        if self.train.label_smoothing and all(h.task == "regression" for h in heads):
            problems.append("train.label_smoothing: applies to classification heads; none has one")
        choices = head_monitor_choices([(h.name, h.task) for h in heads])
        for key, monitor in (
            ("train.early_stopping.monitor", getattr(self.train.early_stopping, "monitor", None)),
            ("train.schedule.monitor", getattr(self.train.schedule, "monitor", None)),
        ):
            if monitor is not None and monitor not in choices:
                problems.append(
                    f"{key}: {monitor!r} is not logged by this multitask model; "
                    f"one of {', '.join(choices)}"
                )
        return problems


#: Per-epoch logs each task produces; early stopping may only monitor these.
TASK_LOGS: dict[str, tuple[str, ...]] = {
    "binary": ("loss", "accuracy", "auc"),
    "multiclass": ("loss", "accuracy"),
    "regression": ("loss", "mae"),
}


def monitor_choices(task: str) -> list[str]:
    """Names early stopping can monitor for a task (training and validation logs)."""
    logs = TASK_LOGS[task]
    return [*logs, *(f"val_{m}" for m in logs)]


def head_monitor_choices(heads: list[tuple[str, str]]) -> list[str]:
    """Logs of a multitask model (Keras' names): loss, then <head>_<metric> for each head."""
    logs = ["loss", *(f"{name}_{m}" for name, task in heads for m in TASK_LOGS[task])]
    return [*logs, *(f"val_{m}" for m in logs)]

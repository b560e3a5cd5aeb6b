"""The `data:` section: one pydantic model per data source, looked up by `source`."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    ByteSize,
    Field,
    model_validator,
)

from expctl.spec.base import Bool, Float, Int, Section, tagged
from expctl.spec.fields import JET_COLUMNS, Task


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


class Streaming(Section):
    """Keys of the sources that can be read in chunks instead of whole (docs/data.md)."""

    stream: Literal["auto"] | Bool = Field(
        "auto",
        description="true: read the files chunk by chunk (bounded memory); auto: when the data "
        "would not fit data.memory_budget; false: always in memory",
    )
    memory_budget: ByteSize | None = Field(
        None,
        description="e.g. 8GB or 512MiB: with stream: auto, larger data are streamed; "
        "default half of the machine's RAM",
    )
    chunk_size: Int = Field(
        65_536, ge=1, le=10_000_000, description="events per read when streaming"
    )
    shuffle_buffer: Int = Field(
        1_000_000,
        ge=0,
        le=100_000_000,
        description="events mixed across chunks and files when streaming (0: file order)",
    )


class TableFile(DataCommon, Streaming):
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


class Hdf5Data(DataCommon, Streaming):
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


class RootData(DataCommon, Streaming):
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


DataSpec = tagged(DATA_SOURCES, "source", "jets")

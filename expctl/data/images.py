"""Image data sources: scikit-learn's digits, MNIST from a Keras-layout .npz, synthetic jet images.

Every source gives features as float32 images (n, height, width, channels) with pixels in [0, 1]
and one feature name per pixel (`pixel_<row>_<col>`, with `_<channel>` when there are several).

Jet images (`generate_jet_images`) are toy calorimeter images in the (η, φ) plane around the jet
axis, a 2.5 x 2.5 window (±1.25) whatever the number of pixels:

* signal, boosted W -> qq: two prongs sharing the jet pT as z and 1 - z, z ~ U(0.1, 0.9), at the
  angle ΔR = m / (pT √(z(1-z))) (≈ 2m/pT for z = 1/2) with m ~ N(80.4, 5) GeV; narrow prongs and
  little soft radiation (the W is a colour singlet);
* background, QCD: one hard prong with a softer emission, z log-uniform in [0.01, 0.5] and ΔR
  log-uniform in [0.05, 0.8] (soft and collinear emissions dominate); wider prongs and more
  wide-angle radiation. A few QCD jets look two-pronged, as real ones do.

Both: pT ~ U(250, 400) GeV, prong axis at a uniform random angle (the images are centred on the
pT-weighted axis but not rotated, so rotations and flips are approximate symmetries), each prong
12 particles with exponential energies at exponential distances from its axis. Each pixel gets
Gaussian noise (σ = 0.5 GeV) and is zero-suppressed below 1 GeV; the image is then divided by its
sum (pT-normalised). Only numpy is imported at module level.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.files import DATA_DIR_ENV, check_npz_member, resolve_path
from expctl.data.table import Table
from expctl.errors import DataError

__all__ = [
    "KERAS_LAYOUT",
    "JetImages",
    "digits_images",
    "generate_jet_images",
    "jet_images_table",
    "keras_cache_paths",
    "load_mnist",
    "pixel_names",
    "read_keras_npz",
    "second_cluster_fraction",
]

#: The arrays of a Keras-layout image dataset (keras.datasets.mnist and friends).
KERAS_LAYOUT: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")

#: Jet images span ±EXTENT in η and in φ around the jet axis.
EXTENT = 1.25
PT_RANGE = (250.0, 400.0)  # GeV
W_MASS = 80.4  # GeV
W_MASS_SMEAR = 5.0  # GeV, resolution on the mass that sets the prong separation
N_PRONG_PARTICLES = 12
N_SOFT_PARTICLES = 16
NOISE_GEV = 0.5
THRESHOLD_GEV = 1.0
#: Jets generated per batch: bounds the temporary memory whatever n_samples is.
_CHUNK = 4096
#: Per class: splitting (z, ΔR) ranges, prong width, soft-radiation fraction and spread.
_SIGNAL = {"prong_width": 0.03, "soft_fraction": 0.03, "soft_spread": 0.2}
_BACKGROUND = {
    "prong_width": 0.05,
    "soft_fraction": 0.06,
    "soft_spread": 0.35,
    "z_min": 0.01,
    "z_max": 0.5,
    "dr_min": 0.05,
    "dr_max": 0.8,
}
_SIGNAL_Z = (0.1, 0.9)


def pixel_names(shape: tuple[int, ...]) -> tuple[str, ...]:
    """One name per pixel of an image of shape (height, width, channels), in C order."""
    height, width, channels = shape
    if channels == 1:
        return tuple(f"pixel_{r}_{c}" for r in range(height) for c in range(width))
    return tuple(
        f"pixel_{r}_{c}_{k}" for r in range(height) for c in range(width) for k in range(channels)
    )


def _image_table(images: np.ndarray, target: np.ndarray, target_name: str, what: str) -> Table:
    return Table(
        features=images,
        target=target,
        feature_names=pixel_names(images.shape[1:]),
        target_name=target_name,
        description=what,
    )


# ----------------------------------------------------------------------------------------- digits


def digits_images() -> Table:
    """scikit-learn's 1,797 handwritten digits as (n, 8, 8, 1) images, pixels 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[..., None]
    return _image_table(
        images,
        bunch.target.astype(np.int64),
        "digit",
        "digits: scikit-learn's 8x8 handwritten digits as images (1,797, 10 classes)",
    )


# ------------------------------------------------------------------------------------------ mnist


def keras_cache_paths(name: str) -> list[Path]:
    """Where keras.datasets' load_data() keeps a download: datasets/ under $KERAS_HOME, ~/.keras or /tmp/.keras."""
    homes = [os.environ["KERAS_HOME"]] if os.environ.get("KERAS_HOME") else []
    homes += [os.path.join(os.path.expanduser("~"), ".keras"), "/tmp/.keras"]
    return [Path(home) / "datasets" / Path(name).name for home in dict.fromkeys(homes)]


def read_keras_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a Keras-layout .npz, never unpickled, headers checked before reading."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.removesuffix(".npy") for n in archive.namelist()]
            missing = [k for k in KERAS_LAYOUT if k not in names]
            if missing:
                raise DataError(
                    f"{path}: not a Keras-layout .npz: no array(s) {', '.join(map(repr, missing))}; "
                    f"arrays: {', '.join(names)} (expected {', '.join(KERAS_LAYOUT)})"
                )
            for key in KERAS_LAYOUT:
                check_npz_member(archive, key, path)
        with np.load(path, allow_pickle=False) as npz:
            return {key: np.asarray(npz[key]) for key in KERAS_LAYOUT}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as .npz: {exc}") from None
    except ValueError as exc:
        raise DataError(f"{path}: cannot load arrays: {exc}") from None


def _joined_images(arrays: dict[str, np.ndarray], where: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check the train and test arrays and join them: images (n, h, w, c) and labels (n,)."""
    xs, ys = [], []
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or 0 in x.shape[1:]:
            raise DataError(
                f"{where}: x_{part} has shape {x.shape}; expected (n, height, width) "
                "or (n, height, width, channels)"
            )
        if x.dtype.kind not in "biuf":
            raise DataError(f"{where}: x_{part} has dtype {x.dtype}; pixels must be numbers")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{where}: y_{part} has shape {y.shape}; expected ({len(x)},), one label per image"
            )
        xs.append(x)
        ys.append(y)
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise DataError(
            f"{where}: training images are {xs[0].shape[1:]} but test images {xs[1].shape[1:]}"
        )
    return np.concatenate(xs), np.concatenate(ys)


def _unit_range(x: np.ndarray, where: Any) -> np.ndarray:
    """Pixels as float32 in [0, 1]: 0..255 is divided by 255, [0, 1] kept, anything else refused."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255)
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise DataError(f"{where}: images contain NaN or infinite pixels")
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if low < 0 or high > 255:
        raise DataError(f"{where}: pixels range over [{low:g}, {high:g}]; expected 0..255 or 0..1")
    scale = 1.0 if x.dtype.kind == "f" and high <= 1 else 255.0
    return (x.astype(np.float32) / np.float32(scale)).astype(np.float32)


def _download_mnist() -> dict[str, np.ndarray]:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # network errors come in many types
        raise DataError(f"data.download: Keras could not download MNIST: {exc}") from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_mnist(spec: Any, base_dir: Path, seed: int) -> Table:
    """MNIST (or any Keras-layout image .npz), train and test joined; `n_samples` drawn with `seed`.

    The file is looked for at `spec.path` (absolute, or under the spec's folder, then
    $EXPCTL_DATA_DIR), then in Keras' dataset cache; with `spec.download` Keras fetches it.
    The subset is drawn exactly as expctl.data.dataset.prepare draws one, so it is the same events.
    """
    not_found = ""
    try:
        path: Path | None = resolve_path(spec.path, base_dir)
    except DataError as exc:
        path = next((p for p in keras_cache_paths(spec.path) if p.is_file()), None)
        not_found = str(exc)
    if path is not None:
        arrays, where = read_keras_npz(path), path
    elif spec.download:
        arrays, where = _download_mnist(), "keras.datasets.mnist"
    else:
        cache = ", ".join(str(p) for p in keras_cache_paths(spec.path))
        raise DataError(
            f"{not_found.split(' (set ')[0]}, nor in Keras' cache ({cache}). "
            f"Set {DATA_DIR_ENV} to the folder holding it, give data.path, or set "
            "data.download: true to let Keras download MNIST (needs the internet)"
        )
    x, y = _joined_images(arrays, where)
    n_samples = spec.n_samples
    if n_samples is not None and n_samples < len(y):
        keep = np.sort(np.random.default_rng(seed).choice(len(y), n_samples, replace=False))
        x, y = x[keep], y[keep]
    images = _unit_range(x, where)
    height, width, _ = images.shape[1:]
    return _image_table(
        images,
        y.astype(np.int64) if y.dtype.kind in "biu" else y,
        "digit",
        f"mnist: {where} ({len(y):,} {height}x{width} images; official train and test sets "
        "joined, then split by data.split)",
    )


# ------------------------------------------------------------------------------------ jet images


@dataclass(frozen=True)
class JetImages:
    """Generated jets: images (n, size, size, 1) float32 summing to 1, label 1 = W, pT and mass in GeV."""

    images: np.ndarray
    label: np.ndarray
    pt: np.ndarray
    mass: np.ndarray


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(low), math.log(high), n))


def _jet_chunk(
    rng: np.random.Generator, label: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (m, size, size) in GeV, pT and mass of m jets; every draw is made for every jet."""
    m = len(label)
    sig = label == 1
    pt = rng.uniform(*PT_RANGE, m)
    # the hard splitting: momentum share z of the second prong and opening angle dr
    z_sig = rng.uniform(*_SIGNAL_Z, m)
    w_mass = W_MASS + W_MASS_SMEAR * rng.standard_normal(m)
    z_bkg = _log_uniform(rng, _BACKGROUND["z_min"], _BACKGROUND["z_max"], m)
    dr_bkg = _log_uniform(rng, _BACKGROUND["dr_min"], _BACKGROUND["dr_max"], m)
    z = np.where(sig, z_sig, z_bkg)
    dr = np.where(sig, w_mass / (pt * np.sqrt(z_sig * (1 - z_sig))), dr_bkg)
    mass = pt * dr * np.sqrt(z * (1 - z))
    angle = rng.uniform(0, 2 * np.pi, m)
    axis = np.stack([np.cos(angle), np.sin(angle)], axis=-1)  # (m, 2)

    def pick(key: str) -> np.ndarray:
        return np.where(sig, _SIGNAL[key], _BACKGROUND[key])

    soft = pick("soft_fraction")
    # prongs: first at -z dr, second at (1 - z) dr along the axis, so the pT centroid is at 0
    centres = np.stack([-z[:, None] * dr[:, None] * axis, (1 - z)[:, None] * dr[:, None] * axis], 1)
    prong_pt = np.stack([1 - z, z], axis=1) * (pt * (1 - soft))[:, None]  # (m, 2)
    energy = rng.exponential(1.0, (m, 2, N_PRONG_PARTICLES))
    energy *= (prong_pt / energy.sum(axis=-1))[..., None]
    radius = rng.exponential(1.0, (m, 2, N_PRONG_PARTICLES)) * pick("prong_width")[:, None, None]
    phi = rng.uniform(0, 2 * np.pi, (m, 2, N_PRONG_PARTICLES))
    offset = np.stack([radius * np.cos(phi), radius * np.sin(phi)], axis=-1)
    prong_pos = centres[:, :, None, :] + offset  # (m, 2, n, 2)
    # soft wide-angle radiation around the jet axis
    soft_energy = rng.exponential(1.0, (m, N_SOFT_PARTICLES))
    soft_energy *= (pt * soft / soft_energy.sum(axis=-1))[:, None]
    soft_pos = rng.standard_normal((m, N_SOFT_PARTICLES, 2)) * pick("soft_spread")[:, None, None]

    pos = np.concatenate([prong_pos.reshape(m, -1, 2), soft_pos], axis=1)
    e = np.concatenate([energy.reshape(m, -1), soft_energy], axis=1)
    cell = np.floor((pos + EXTENT) * (size / (2 * EXTENT))).astype(np.int64)
    inside = np.all((cell >= 0) & (cell < size), axis=-1)
    jet = np.broadcast_to(np.arange(m)[:, None], inside.shape)
    flat = (jet * size + cell[..., 0]) * size + cell[..., 1]
    images = np.bincount(flat[inside], weights=e[inside], minlength=m * size * size)
    images = images.reshape(m, size, size)
    images += NOISE_GEV * rng.standard_normal(images.shape)
    images[images < THRESHOLD_GEV] = 0.0
    return images, pt, mass


def generate_jet_images(
    n_samples: int, seed: int, image_size: int = 25, signal_fraction: float = 0.5
) -> JetImages:
    """Draw `n_samples` jet images, `round(n_samples * signal_fraction)` of them W jets (label 1).

    Deterministic for its arguments: only `np.random.default_rng(seed)` is used. Rows are in a
    random order; each image is divided by its sum, so pixels are pT fractions in [0, 1].
    """
    if n_samples < 1 or image_size < 1:
        raise ValueError(
            f"n_samples and image_size must be positive, got {n_samples}, {image_size}"
        )
    if not 0 < signal_fraction < 1:
        raise ValueError(f"signal_fraction must be in (0, 1), got {signal_fraction!r}")
    rng = np.random.default_rng(seed)
    n_sig = round(n_samples * signal_fraction)
    label = rng.permutation(np.r_[np.ones(n_sig), np.zeros(n_samples - n_sig)].astype(np.int64))
    images = np.empty((n_samples, image_size, image_size, 1), dtype=np.float32)
    pt = np.empty(n_samples)
    mass = np.empty(n_samples)
    for start in range(0, n_samples, _CHUNK):
        stop = min(start + _CHUNK, n_samples)
        chunk, pt[start:stop], mass[start:stop] = _jet_chunk(rng, label[start:stop], image_size)
        total = chunk.sum(axis=(1, 2), keepdims=True)
        np.divide(chunk, total, out=chunk, where=total > 0)
        images[start:stop, ..., 0] = chunk
    return JetImages(images=images, label=label, pt=pt, mass=mass)


def jet_images_table(n_samples: int, image_size: int, signal_fraction: float, seed: int) -> Table:
    """The `jet_images` source: generated images and their labels (1 = W, 0 = QCD)."""
    jets = generate_jet_images(n_samples, seed, image_size, signal_fraction)
    return _image_table(
        jets.images,
        jets.label,
        "label",
        f"jet_images: {n_samples} synthetic {image_size}x{image_size} calorimeter images, "
        "2-prong W jets (signal) vs 1-prong QCD jets (background)",
    )


def second_cluster_fraction(images: np.ndarray, exclusion: int = 2) -> np.ndarray:
    """pT fraction of the brightest 3x3 cluster more than `exclusion` pixels from the brightest one.

    A simple two-prong tagger for pT-normalised jet images (n, h, w) or (n, h, w, 1): large for
    W jets, whose second prong carries z ≥ 0.1, small for most QCD jets.
    """
    x = images[..., 0] if images.ndim == 4 else images
    n, height, width = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    boxes = sum(
        padded[:, 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]
        for dr in (-1, 0, 1)
        for dc in (-1, 0, 1)
    )
    first = boxes.reshape(n, -1).argmax(axis=1)
    rows, cols = np.divmod(first, width)
    r = np.arange(height)[None, :, None]
    c = np.arange(width)[None, None, :]
    near = (np.abs(r - rows[:, None, None]) <= exclusion) & (
        np.abs(c - cols[:, None, None]) <= exclusion
    )
    return np.where(near, 0.0, boxes).reshape(n, -1).max(axis=1)

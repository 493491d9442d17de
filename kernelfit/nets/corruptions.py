"""Randomization tests of Zhang et al.: corrupted copies of an image data set.

Every function returns new arrays and never modifies its inputs. Each takes a
``seed`` and gives the same result for the same seed. The transforms are the
ones of Section 2.1 of the paper:

- ``"true_labels"``: the data unchanged (copies);
- ``"partial_labels"``: with probability ``p`` each training label is
  independently replaced by a class drawn uniformly from all ``num_classes``
  (so it keeps its value with probability ``1 / num_classes`` even then);
- ``"random_labels"``: the same with ``p = 1``;
- ``"shuffled_pixels"``: one random permutation of the pixel positions applied
  to every training and test image (the channels of a pixel move together);
- ``"random_pixels"``: an independent permutation for every image;
- ``"gaussian"``: every image replaced by i.i.d. Gaussian noise whose mean and
  variance are those of the training images (returned as float32).

Label corruptions touch only the training labels: the test set keeps its true
labels, so test accuracy measures generalization. Images are ``(N, H, W)`` or
``(N, H, W, C)``; this module needs only NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validation import check_matrix, check_same_rows

__all__ = [
    "CORRUPTIONS",
    "CorruptedData",
    "LabelCorruption",
    "check_probability",
    "corrupt",
    "corrupt_labels",
    "gaussian_images",
    "random_labels",
    "random_pixels",
    "shuffle_pixels",
]

CORRUPTIONS = (
    "true_labels",
    "partial_labels",
    "random_labels",
    "shuffled_pixels",
    "random_pixels",
    "gaussian",
)

# Images per block when drawing one permutation per image (bounds temporary memory).
_PERMUTATION_BLOCK = 4096


@dataclass
class LabelCorruption:
    """Training labels after corruption.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
        The new labels.
    resampled : ndarray of bool, shape (n,)
        Labels that were redrawn (each with probability ``p``).
    changed : ndarray of bool, shape (n,)
        Labels whose value actually differs from the original (a redrawn label
        keeps its value with probability ``1 / num_classes``).
    p : float
        Corruption probability.
    seed : int
        Seed of the draw.
    """

    labels: np.ndarray
    resampled: np.ndarray
    changed: np.ndarray
    p: float
    seed: int

    @property
    def changed_fraction(self) -> float:
        """Fraction of labels whose value changed."""
        return float(self.changed.mean())


@dataclass
class CorruptedData:
    """A corrupted copy of a train/test split.

    Attributes
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The data to train and test on.
    corruption : str
        One of :data:`CORRUPTIONS`.
    p : float
        Label corruption probability (0 for the pixel corruptions, 1 for random labels).
    seed : int
        Seed of the corruption.
    labels_changed : ndarray of bool, shape (n_train,)
        Training labels whose value differs from the original.
    details : dict
        JSON-friendly facts about the transform (fraction of labels changed,
        Gaussian mean and standard deviation).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    corruption: str
    p: float
    seed: int
    labels_changed: np.ndarray
    details: dict = field(default_factory=dict)


def check_probability(p) -> float:
    """Return ``p`` as a float after checking it is a real number in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p must be a real number in [0, 1]; found {type(p).__name__}")
    if not (0.0 <= float(p) <= 1.0):
        raise ValueError(f"p must be in [0, 1]; found {p!r}")
    return float(p)


def _check_labels(y, name: str = "y") -> np.ndarray:
    y = check_matrix(y, name, ndim=1)
    if np.asarray(y).dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels; found dtype {y.dtype}")
    return np.asarray(y)


def _check_images(X, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim not in (3, 4):
        raise ValueError(
            f"{name} must be images of shape (N, H, W) or (N, H, W, C); found shape {X.shape}"
        )
    return check_matrix(X, name, ndim=X.ndim)


def _check_pair(X_train, X_test) -> tuple[np.ndarray, np.ndarray]:
    X_train = _check_images(X_train, "X_train")
    X_test = _check_images(X_test, "X_test")
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(
            "X_train and X_test must hold images of the same shape; found "
            f"{X_train.shape[1:]} and {X_test.shape[1:]}"
        )
    return X_train, X_test


def corrupt_labels(y, p: float, num_classes: int = 10, seed: int = 0) -> LabelCorruption:
    """Replace each label, independently with probability ``p``, by a uniform random class.

    Parameters
    ----------
    y : array of int, shape (n,)
        Original labels in ``[0, num_classes)``.
    p : float
        Probability of redrawing each label, in [0, 1].
    num_classes : int, default 10
        Number of classes to draw from.
    seed : int, default 0
        Seed of the draw.

    Returns
    -------
    LabelCorruption
        New labels and the masks of redrawn and changed labels.
    """
    y = _check_labels(y)
    p = check_probability(p)
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2; found {num_classes!r}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}); found values in [{y.min()}, {y.max()}]"
        )
    rng = np.random.default_rng(seed)
    resampled = rng.random(y.shape[0]) < p
    draws = rng.integers(0, num_classes, size=y.shape[0])
    labels = np.where(resampled, draws, y).astype(np.int64)
    return LabelCorruption(labels, resampled, labels != y, p, seed)


def random_labels(y, num_classes: int = 10, seed: int = 0) -> LabelCorruption:
    """Replace every label by a uniform random class (``corrupt_labels`` with ``p=1``)."""
    return corrupt_labels(y, 1.0, num_classes, seed)


def _flat_pixels(X: np.ndarray) -> np.ndarray:
    """View ``(N, H, W[, C])`` as ``(N, H*W, C)`` so a pixel's channels move together."""
    channels = X.shape[3] if X.ndim == 4 else 1
    return X.reshape(X.shape[0], X.shape[1] * X.shape[2], channels)


def shuffle_pixels(X_train, X_test, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply one random permutation of the pixel positions to every image.

    Parameters
    ----------
    X_train, X_test : ndarray, shape (N, H, W) or (N, H, W, C)
        Images; both sets get the same permutation.
    seed : int, default 0
        Seed of the permutation.

    Returns
    -------
    X_train, X_test : ndarray
        New arrays of the input shapes and dtypes.
    permutation : ndarray of int64, shape (H*W,)
        Output pixel ``k`` (row-major) is input pixel ``permutation[k]``.
    """
    X_train, X_test = _check_pair(X_train, X_test)
    permutation = np.random.default_rng(seed).permutation(X_train.shape[1] * X_train.shape[2])
    out = [_flat_pixels(X)[:, permutation].reshape(X.shape) for X in (X_train, X_test)]
    return out[0], out[1], permutation


def _permute_each(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flat = _flat_pixels(X)
    out = np.empty_like(flat)
    n_pixels = flat.shape[1]
    for start in range(0, flat.shape[0], _PERMUTATION_BLOCK):
        block = flat[start : start + _PERMUTATION_BLOCK]
        order = np.argsort(rng.random((block.shape[0], n_pixels)), axis=1)
        out[start : start + block.shape[0]] = np.take_along_axis(block, order[:, :, None], axis=1)
    return out.reshape(X.shape)


def random_pixels(X_train, X_test, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Apply an independent random permutation of the pixel positions to every image.

    Parameters
    ----------
    X_train, X_test : ndarray, shape (N, H, W) or (N, H, W, C)
        Images.
    seed : int, default 0
        Seed of the permutations.

    Returns
    -------
    X_train, X_test : ndarray
        New arrays of the input shapes and dtypes.
    """
    X_train, X_test = _check_pair(X_train, X_test)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return _permute_each(X_train, train_rng), _permute_each(X_test, test_rng)


def gaussian_images(X_train, X_test, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Replace every image by Gaussian noise matching the training set's mean and variance.

    The mean and variance are those of all training pixel values (one scalar
    each, over images, positions and channels). Both sets are replaced.

    Parameters
    ----------
    X_train, X_test : ndarray, shape (N, H, W) or (N, H, W, C)
        Images; only their shapes and the training statistics are used.
    seed : int, default 0
        Seed of the draw.

    Returns
    -------
    X_train, X_test : ndarray of float32
        New images of the input shapes.
    stats : dict
        ``{"mean": float, "std": float}`` used for the draw.
    """
    X_train, X_test = _check_pair(X_train, X_test)
    mean = float(np.mean(X_train, dtype=np.float64))
    std = float(np.std(X_train, dtype=np.float64))
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    new_train = train_rng.normal(mean, std, size=X_train.shape).astype(np.float32)
    new_test = test_rng.normal(mean, std, size=X_test.shape).astype(np.float32)
    return new_train, new_test, {"mean": mean, "std": std}


def corrupt(
    corruption: str,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    p: float | None = None,
    num_classes: int = 10,
    seed: int = 0,
) -> CorruptedData:
    """Apply one of the paper's randomization tests to a train/test split.

    Parameters
    ----------
    corruption : str
        One of :data:`CORRUPTIONS`.
    X_train : ndarray, shape (n, H, W) or (n, H, W, C)
    y_train : ndarray of int, shape (n,)
    X_test : ndarray, shape (m, H, W) or (m, H, W, C)
    y_test : ndarray of int, shape (m,)
    p : float, optional
        Corruption probability; required for ``"partial_labels"`` and ignored otherwise.
    num_classes : int, default 10
    seed : int, default 0

    Returns
    -------
    CorruptedData
        New arrays; the inputs are not modified.
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}; found {corruption!r}")
    X_train, X_test = _check_pair(X_train, X_test)
    y_train, y_test = _check_labels(y_train, "y_train"), _check_labels(y_test, "y_test")
    check_same_rows(X_train, y_train, "X_train", "y_train")
    check_same_rows(X_test, y_test, "X_test", "y_test")
    if corruption == "partial_labels" and p is None:
        raise ValueError("corruption='partial_labels' needs p in [0, 1]; found p=None")
    unchanged = np.zeros(y_train.shape[0], dtype=bool)
    y_test = y_test.astype(np.int64, copy=True)
    if corruption in ("true_labels", "shuffled_pixels", "random_pixels", "gaussian"):
        y_new, changed, p_used, details = y_train.astype(np.int64, copy=True), unchanged, 0.0, {}
        if corruption == "true_labels":
            X_train, X_test = X_train.copy(), X_test.copy()
        elif corruption == "shuffled_pixels":
            X_train, X_test, _ = shuffle_pixels(X_train, X_test, seed)
        elif corruption == "random_pixels":
            X_train, X_test = random_pixels(X_train, X_test, seed)
        else:
            X_train, X_test, details = gaussian_images(X_train, X_test, seed)
    else:
        p_used = 1.0 if corruption == "random_labels" else check_probability(p)
        result = corrupt_labels(y_train, p_used, num_classes, seed)
        y_new, changed = result.labels, result.changed
        X_train, X_test = X_train.copy(), X_test.copy()
        details = {"resampled_fraction": float(result.resampled.mean())}
    details["changed_fraction"] = float(changed.mean())
    return CorruptedData(
        X_train, y_new, X_test, y_test, corruption, p_used, seed, changed, details
    )

"""Class labels as regression targets, and scores back to labels.

Kernel classification here is regression on encoded labels (as in Zhang et al.):
one-hot rows for more than two classes, one column of ±1 for two. Every path
that fits labels (the estimators, the streamed features, the held-out searches,
the label-noise runs, the experiments) encodes them with :func:`encode_targets`
and decodes scores with :func:`decode_scores`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["decode_scores", "encode_targets", "one_hot"]


def one_hot(labels, classes) -> np.ndarray:
    """Rows ``e_c`` for the labels, one column per class, float64.

    Parameters
    ----------
    labels : array of shape (n,)
    classes : array of shape (k,)
        Sorted, distinct class labels; every label must be one of them.

    Returns
    -------
    ndarray of shape (n, k), float64

    Raises
    ------
    ValueError
        A label that is not in ``classes``.
    """
    labels, classes = np.asarray(labels), np.asarray(classes)
    index = np.searchsorted(classes, labels)
    found = index < len(classes)
    found[found] = classes[index[found]] == labels[found]
    if not found.all():
        raise ValueError(f"every label must be one of the classes {classes.tolist()}; found "
                         f"{labels[~found][0].item()!r} (row {int(np.flatnonzero(~found)[0])})")
    out = np.zeros((len(labels), len(classes)))
    out[np.arange(len(labels)), index] = 1.0
    return out


def encode_targets(y) -> tuple[np.ndarray, np.ndarray]:
    """The classes of ``y`` and its regression targets.

    Parameters
    ----------
    y : array of shape (n,)
        Class labels.

    Returns
    -------
    classes : ndarray of shape (k,)
        The sorted distinct labels.
    targets : ndarray of shape (n,) for two classes, (n, k) otherwise, float64
        ``+1`` for ``classes[1]`` and ``-1`` for ``classes[0]`` with two classes;
        one-hot rows otherwise.

    Raises
    ------
    ValueError
        Fewer than 2 classes.
    """
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"classification needs samples of at least 2 classes; found "
                         f"{len(classes)} class: {classes}")
    Y = one_hot(y, classes)
    if len(classes) == 2:
        return classes, Y[:, 1] - Y[:, 0]
    return classes, Y


def decode_scores(scores, classes) -> np.ndarray:
    """Class labels from scores: the sign for one column (two classes), else the arg-max.

    Parameters
    ----------
    scores : array of shape (m,) or (m, k)
    classes : array of shape (2,) or (k,)

    Returns
    -------
    ndarray of shape (m,)
    """
    scores, classes = np.asarray(scores), np.asarray(classes)
    if scores.ndim == 1:
        return classes[(scores > 0).astype(int)]
    return classes[np.argmax(scores, axis=1)]

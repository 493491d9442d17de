"""Target encoding and decoding against scikit-learn's LabelBinarizer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import LabelBinarizer

from kernelfit.solvers.targets import decode_scores, encode_targets, one_hot


@pytest.mark.parametrize("labels", [
    np.array([3, 1, 1, 3, 3]),
    np.array(["cat", "dog", "bird", "dog", "cat", "cat"]),
    np.array([0, 4, 2, 2, 9, 4, 0]),
])
def test_encoding_matches_label_binarizer(labels):
    binarizer = LabelBinarizer(neg_label=-1 if len(np.unique(labels)) == 2 else 0)
    expected = binarizer.fit_transform(labels).astype(np.float64)
    classes, Y = encode_targets(labels)
    np.testing.assert_array_equal(classes, binarizer.classes_)
    np.testing.assert_array_equal(Y, expected[:, 0] if expected.shape[1] == 1 else expected)
    assert Y.dtype == np.float64
    np.testing.assert_array_equal(decode_scores(Y, classes), labels)


def test_one_hot_keeps_absent_classes():
    Y = one_hot(np.array([2, 0, 2]), np.arange(4))
    np.testing.assert_array_equal(Y, np.eye(4)[[2, 0, 2]])


def test_one_hot_refuses_a_label_outside_the_classes():
    with pytest.raises(ValueError, match=r"one of the classes \[0, 1, 2\]; found 7 \(row 1\)"):
        one_hot(np.array([0, 7, 1]), np.arange(3))


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes; found 1 class"):
        encode_targets(np.array([5, 5, 5]))


def test_decoding_takes_the_sign_or_the_arg_max():
    np.testing.assert_array_equal(decode_scores(np.array([-0.5, 0.2]), np.array(["a", "b"])),
                                  ["a", "b"])
    scores = np.array([[0.1, 0.7, 0.2], [0.9, 0.0, 0.1]])
    np.testing.assert_array_equal(decode_scores(scores, np.array([10, 20, 30])), [20, 10])

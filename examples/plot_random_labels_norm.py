"""
Fit random labels and watch the norm grow
=========================================

An exact kernel interpolant fits *any* labels: the training error is zero
whether the labels are true or drawn at random. What differs is the RKHS norm
of the fit, :math:`\\|f\\|_{\\mathcal H} = \\sqrt{\\alpha^\\top K \\alpha}`. With
true labels it grows slowly with the number of points; with random labels every
new point is a new constraint the function must bend to meet, and the norm grows
much faster. This is the kernel version of the randomization test of Zhang et
al. (Section 5).

The example uses scikit-learn's 8x8 digits (1,797 images, shipped with
scikit-learn) so that it needs no download.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import kernelfit as kf
from kernelfit.nets import corrupt_labels

digits = load_digits()
X = digits.data / 16.0  # pixels in [0, 1]
y = digits.target
rng = np.random.default_rng(0)
order = rng.permutation(len(y))
X, y = X[order], y[order]

# %%
# Each label redrawn uniformly at random with probability ``p``, then exact
# fits (``reg=0``) on growing subsets. ``rkhs_norm_`` is set by ``fit``.
sizes = [100, 200, 400, 800, 1600]
fractions = [0.0, 0.5, 1.0]
norms = {p: [] for p in fractions}
for p in fractions:
    labels = corrupt_labels(y, p, num_classes=10, seed=1).labels
    for n in sizes:
        clf = kf.KernelClassifier(kernel="gaussian", bandwidth=1.5, reg=0.0)
        clf.fit(X[:n], labels[:n])
        assert clf.score(X[:n], labels[:n]) == 1.0  # every fit interpolates
        norms[p].append(clf.rkhs_norm_)
    print(f"p = {p:.1f}: RKHS norm " + ", ".join(f"{v:.1f}" for v in norms[p])
          + f" at n = {sizes}")

# %%
# The norm against ``n``: the more labels are random, the steeper the growth.
fig, ax = plt.subplots(figsize=(5, 3.5))
for p in fractions:
    ax.plot(sizes, norms[p], "o-", label=f"labels redrawn with p = {p:g}")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("training points n")
ax.set_ylabel("RKHS norm of the interpolant")
ax.legend()
fig.tight_layout()
plt.show()

"""
The minimum-norm solution against SGD from zero
===============================================

With more parameters than equations, ``X w = y`` has infinitely many exact
solutions. Among them :func:`kernelfit.min_norm` returns the one of smallest
Euclidean norm, :math:`w^\\star = X^\\top (X X^\\top)^{-1} y`. Stochastic
gradient descent started at ``w = 0`` only ever adds multiples of the rows of
``X`` to ``w``, so it stays in their span and converges to that same
:math:`w^\\star` (Zhang et al., Section 5). Started anywhere else, it converges
to a different interpolant, whose norm is larger.
"""

import matplotlib.pyplot as plt
import numpy as np

import kernelfit as kf

rng = np.random.default_rng(0)
n, d = 40, 200  # 40 equations, 200 unknowns
X = rng.standard_normal((n, d)) / np.sqrt(d)
y = rng.standard_normal(n)

exact = kf.min_norm(X, y)
print(f"minimum-norm solution: ||w|| = {exact.norm:.4f}, relative residual {exact.residual:.1e}")

# %%
# SGD from zero and from a random start, one example per step.
# ``distance_to_min_norm`` is ``||w_t - w*||`` after each epoch.
epochs = 300
from_zero = kf.sgd_linear(X, y, lr=0.5, epochs=epochs)
w0 = rng.standard_normal(d)
from_random = kf.sgd_linear(X, y, lr=0.5, epochs=epochs, w0=w0)
for name, run in [("from zero", from_zero), ("from a random start", from_random)]:
    print(f"SGD {name}: training loss {run.loss[-1]:.1e}, ||w|| = {np.linalg.norm(run.w):.4f}, "
          f"distance to the minimum-norm solution {run.distance_to_min_norm[-1]:.1e}")

# %%
# Both runs fit the data (the loss goes to zero); only the one started at zero
# ends at the minimum-norm solution. The other keeps the part of ``w0`` that is
# orthogonal to the rows of ``X``, which SGD never changes.
fig, (ax_loss, ax_dist) = plt.subplots(1, 2, figsize=(8, 3.2))
steps = np.arange(1, epochs + 1)
for name, run in [("from zero", from_zero), ("from random w0", from_random)]:
    ax_loss.semilogy(steps, run.loss, label=name)
    ax_dist.semilogy(steps, run.distance_to_min_norm, label=name)
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("training loss")
ax_dist.set_xlabel("epoch")
ax_dist.set_ylabel("distance to $w^\\star$")
ax_dist.legend()
fig.tight_layout()
plt.show()

"""
Training on Dask collections
============================

With a dask array, ``fit`` trains data-parallel: each chunk stays where it is, its gradient
sums are computed there, and only those sums travel. Here dask's synchronous scheduler runs it
in this process; with a ``distributed.Client`` connected to a cluster the same code runs there.
"""

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np

import fastdescent as fd

rng = np.random.default_rng(0)
X = rng.standard_normal((40_000, 20))
y = X @ rng.standard_normal(20) + 0.1 * rng.standard_normal(40_000)
X_dask = da.from_array(X, chunks=(5_000, 20))
y_dask = da.from_array(y, chunks=5_000)

with dask.config.set(scheduler="synchronous"):
    model = fd.SGDRegressor(batch_size="full", optimizer="adam", max_iter=40, tol=None)
    model.fit(X_dask, y_dask)
    r2 = float(model.score(X_dask, y_dask))
in_memory = fd.SGDRegressor(batch_size="full", optimizer="adam", max_iter=40, tol=None).fit(X, y)
print(f"R^2 on dask: {r2:.4f}; the same fit in memory: {in_memory.score(X, y):.4f}")

fig, ax = plt.subplots()
ax.semilogy(model.loss_curve_, label="dask chunks")
ax.semilogy(in_memory.loss_curve_, "--", label="in memory")
ax.set_xlabel("epoch")
ax.set_ylabel("training objective")
ax.legend()
plt.show()

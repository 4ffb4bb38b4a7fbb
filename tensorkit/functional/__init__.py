"""Functional tensor decomposition of data measured at continuous coordinates.

:class:`ContinuousObservations` holds values at real coordinates ``(N, K)`` (normalized per mode,
with the sorted distinct coordinates of each mode); :class:`FunctionalTucker` is the functional
Bayesian Tucker decomposition (FunBaT, Fang et al., ICLR 2024): a Tucker (or CP) core with
Gaussian-process factor functions of each coordinate, inferred by expectation propagation with
Kalman smoothing, predicting with uncertainty at coordinates never observed.

Examples
--------
>>> import numpy as np
>>> from tensorkit.functional import ContinuousObservations, FunctionalTucker
>>> rng = np.random.default_rng(1)
>>> X = rng.random((400, 2))
>>> obs = ContinuousObservations(X, np.cos(3 * X[:, 0]) * (1 + X[:, 1]))
>>> model = FunctionalTucker(1, lengthscale=0.5, n_epochs=20, random_state=0).fit(obs)
>>> bool(model.info.extras["train_rmse"][-1] < 0.03)
True
"""

from ._model import FunctionalTucker
from ._observations import ContinuousObservations

__all__ = ["ContinuousObservations", "FunctionalTucker"]

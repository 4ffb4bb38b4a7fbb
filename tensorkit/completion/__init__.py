"""Tensor completion: predict the missing cells of a tensor from its observed ones.

The input is an :class:`~tensorkit.observed.ObservedTensor` (the observed cells as COO, numpy or
CuPy). :func:`cp_complete` fits a CP model to the observed cells only (ALS with per-row normal
equations, or CP-WOPT with L-BFGS), :func:`tucker_complete` a Tucker model; :func:`rmse`,
:func:`mae` and :func:`nrmse` measure any model on held-out cells, and :func:`values_at` gives a
model's values at cells without forming the dense tensor. :class:`NeuralCompletion` is DAIN's
neural model (an MLP over per-mode embeddings) and :class:`DAIN` / :func:`dain_augment` its
data augmentation by TracIn cell and entity importances. :func:`plot_error_history` and
:func:`plot_predictions` draw a fit's error per sweep and its held-out predictions.

Examples
--------
>>> import numpy as np
>>> from tensorkit.observed import ObservedTensor
>>> from tensorkit.completion import cp_complete, nrmse
>>> rng = np.random.default_rng(0)
>>> X = np.einsum("ir,jr,kr->ijk", *(rng.standard_normal((n, 3)) for n in (15, 16, 17)))
>>> train, test = ObservedTensor.from_dense(X).split((0.3, 0.7), random_state=0)
>>> model = cp_complete(train, 3, reg=1e-6, random_state=0)
>>> nrmse(model, test) < 1e-3
True
"""

from ._als import cp_complete, initial_cp
from ._dain import DAIN, DAINAugmentation, dain_augment
from ._metrics import mae, nrmse, rmse, values_at
from ._neural import NeuralCompletion
from ._plots import plot_error_history, plot_predictions
from ._tucker import tucker_complete

__all__ = [
    "DAIN",
    "DAINAugmentation",
    "NeuralCompletion",
    "cp_complete",
    "dain_augment",
    "initial_cp",
    "mae",
    "nrmse",
    "plot_error_history",
    "plot_predictions",
    "rmse",
    "tucker_complete",
    "values_at",
]

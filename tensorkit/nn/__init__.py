"""Neural-network layers, losses, optimizers and a trainer on numpy/CuPy arrays, without autodiff.

Each layer writes out its adjoint (``backward``); parameters and gradients are plain dicts of arrays.
Driven by hand::

    pred = model.forward(x); value = loss_fn.forward(pred, y); g = loss_fn.backward()
    model.zero_grad(); model.backward(g); optimizer.step()

or by :class:`Trainer`. Every adjoint is checked by :func:`gradcheck` (finite differences).

Factorized weights (CP, Tucker, tensor train) have one engine, :class:`FactorizedWeight` with the
contractions :func:`contract_pairwise` / :func:`backprop_pairwise`, :func:`einsum_many` and
:func:`einsum_gradient`: :class:`FactorizedConv` is built on it here, and so are the spectral
weights of ``operators.SpectralConv``. :class:`OneWayConv` keeps each (in, out) kernel as a rank-R
sum of outer products of 1D filters; :class:`Upsample` and :class:`SkipConcat` complete the U-Net.
"""

from ._activations import GELU, ReLU, Tanh
from ._containers import Residual, Sequential
from ._conv import Conv2d, Conv3d
from ._embedding import Embedding
from ._factorized import (
    FACTORIZATIONS,
    FactorizedWeight,
    FactorSpec,
    backprop_pairwise,
    contract_pairwise,
    einsum_gradient,
    einsum_many,
)
from ._factorized_conv import CPConv2d, FactorizedConv
from ._gradcheck import GradcheckError, gradcheck
from ._linear import Linear
from ._losses import H1Loss, Loss, LpLoss, MSELoss
from ._merge import SkipConcat
from ._module import Module
from ._normalizer import Normalizer
from ._oneway_conv import OneWayConv
from ._optim import SGD, Adam, AdamW, CosineLR, ExponentialMovingAverage, Lion, Optimizer, Scheduler, StepLR
from ._processor import NormalizingProcessor, Processor
from ._resample import Upsample
from ._trainer import Trainer, plot_history

__all__ = [
    "FACTORIZATIONS",
    "GELU",
    "SGD",
    "Adam",
    "AdamW",
    "CPConv2d",
    "Conv2d",
    "Conv3d",
    "CosineLR",
    "Embedding",
    "ExponentialMovingAverage",
    "FactorSpec",
    "FactorizedConv",
    "FactorizedWeight",
    "GradcheckError",
    "H1Loss",
    "Linear",
    "Lion",
    "Loss",
    "LpLoss",
    "MSELoss",
    "Module",
    "Normalizer",
    "NormalizingProcessor",
    "OneWayConv",
    "Optimizer",
    "Processor",
    "ReLU",
    "Residual",
    "Scheduler",
    "Sequential",
    "SkipConcat",
    "StepLR",
    "Tanh",
    "Trainer",
    "Upsample",
    "backprop_pairwise",
    "contract_pairwise",
    "einsum_gradient",
    "einsum_many",
    "gradcheck",
    "plot_history",
]

"""Neural-network layers, losses, optimizers and a trainer on numpy/CuPy arrays, without autodiff.

Each layer writes out its adjoint (``backward``); parameters and gradients are plain dicts of arrays.
Driven by hand::

    pred = model.forward(x); value = loss_fn.forward(pred, y); g = loss_fn.backward()
    model.zero_grad(); model.backward(g); optimizer.step()

or by :class:`Trainer`. Every adjoint is checked by :func:`gradcheck` (finite differences).
"""

from ._gradcheck import GradcheckError, gradcheck
from ._layers import GELU, Conv2d, CPConv2d, Linear, ReLU, Residual, Sequential, Tanh
from ._losses import H1Loss, Loss, LpLoss, MSELoss, Normalizer
from ._module import Module
from ._optim import SGD, Adam, AdamW, CosineLR, Lion, Optimizer, Scheduler, StepLR
from ._trainer import Trainer, plot_history

__all__ = [
    "GELU",
    "SGD",
    "Adam",
    "AdamW",
    "CPConv2d",
    "Conv2d",
    "CosineLR",
    "GradcheckError",
    "H1Loss",
    "Linear",
    "Lion",
    "Loss",
    "LpLoss",
    "MSELoss",
    "Module",
    "Normalizer",
    "Optimizer",
    "ReLU",
    "Residual",
    "Scheduler",
    "Sequential",
    "StepLR",
    "Tanh",
    "Trainer",
    "gradcheck",
    "plot_history",
]

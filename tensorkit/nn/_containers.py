"""Composition of modules: :class:`Sequential` and the skip connection :class:`Residual`."""

from __future__ import annotations

from ._activations import GELU
from ._linear import Linear
from ._module import Module

__all__ = ["Residual", "Sequential"]


class Sequential(Module):
    """Modules applied in order; ``backward`` runs their adjoints in reverse.

    Children are named ``"0"``, ``"1"``, ... (parameter names ``"0.weight"`` etc.). The dtype is
    taken from the first child.
    """

    def __init__(self, *modules: Module):
        if not modules:
            raise ValueError("Sequential needs at least one module")
        super().__init__(dtype=modules[0].dtype)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def forward(self, x):
        modules = list(self._modules.values())
        k = 0
        while k < len(modules):
            if self._fusable(modules, k):
                # the bias of a channel Linear is added in the GELU's pass, in place: no temporaries
                linear = modules[k]
                h = linear._forward(x, add_bias=False)
                x = modules[k + 1].forward_shifted(
                    h, linear.params["bias"] if linear.has_bias else None, overwrite_x=True
                )
                k += 2
            else:
                x = modules[k].forward(x)
                k += 1
        return x

    def backward(self, grad_out):
        modules = list(self._modules.values())
        for k in reversed(range(len(modules))):
            # a Linear's input gradient is a new array: a GELU before it may overwrite it
            fresh = k + 1 < len(modules) and type(modules[k + 1]) is Linear
            if fresh and type(modules[k]) is GELU:
                grad_out = modules[k].backward(grad_out, overwrite=True)
            else:
                grad_out = modules[k].backward(grad_out)
        return grad_out

    @staticmethod
    def _fusable(modules, k) -> bool:
        """``modules[k]`` a Linear over the channel axis feeding ``modules[k + 1]``, a GELU."""
        if k + 1 >= len(modules):
            return False
        linear, act = modules[k], modules[k + 1]
        return type(linear) is Linear and linear.axis == 1 and type(act) is GELU


class Residual(Module):
    """Skip connection ``y = body(x) + shortcut(x)`` (``shortcut`` is the identity by default).

    Parameters
    ----------
    body : Module
    shortcut : Module, optional
        For example a :class:`Linear` when the channel counts differ.
    """

    def __init__(self, body: Module, shortcut: Module | None = None):
        super().__init__(dtype=body.dtype)
        self.add_module("body", body)
        self.shortcut = shortcut
        if shortcut is not None:
            self.add_module("shortcut", shortcut)

    def forward(self, x):
        y = self._modules["body"].forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != skip.shape:
            raise ValueError(
                f"Residual: body output {tuple(y.shape)} and shortcut {tuple(skip.shape)} differ"
            )
        return y + skip

    def backward(self, grad_out):
        dx = self._modules["body"].backward(grad_out)
        if self.shortcut is None:
            return dx + grad_out
        return dx + self.shortcut.backward(grad_out)

"""Physics on top of tensorkit and operators: PDE data and operator learning on it
(:mod:`physics.pde`), wave-equation simulators and their zone submodel (:mod:`physics.wave`),
electrostatics of many point charges (:mod:`physics.electrostatics`), and :func:`fit_operator`,
the training recipe of the FNO paper for any model and data."""

from ._learning import OperatorFit, ProcessorChain, VorticityVelocity, fit_operator

__all__ = ["OperatorFit", "ProcessorChain", "VorticityVelocity", "fit_operator"]

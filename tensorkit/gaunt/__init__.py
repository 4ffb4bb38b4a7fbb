"""Gaunt tensor products of E(3)-equivariant features (real spherical harmonics, e3nn conventions).

Features are arrays of real spherical-harmonic coefficients, degrees ``0..L`` in order and
``m = -l..l`` inside each degree (``(L+1)**2`` numbers), exactly as in e3nn. The Gaunt tensor product
multiplies the two spherical functions and projects back (Luo, Chen and Krishnapriyan, ICLR 2024),
in O(L^3) instead of the O(L^6) of a Clebsch-Gordan tensor product.

References
----------
S. Luo, T. Chen, A. S. Krishnapriyan, "Enabling Efficient Equivariant Operations in the Fourier
Basis via Gaunt Tensor Products", ICLR 2024, arXiv:2401.10216.
Y. Xie et al., "The Price of Freedom: Exploring Expressivity and Runtime Tradeoffs in Equivariant
Tensor Products", arXiv:2506.13523.
"""

from ._coefficients import gaunt_coefficients
from ._ops import equivariant_convolution, feature_interaction, many_body_product
from ._product import METHODS, GauntTensorProduct, gaunt_tensor_product
from ._sph_harm import real_sph_harm
from ._wigner import wigner_D

__all__ = [
    "METHODS",
    "GauntTensorProduct",
    "equivariant_convolution",
    "feature_interaction",
    "gaunt_coefficients",
    "gaunt_tensor_product",
    "many_body_product",
    "real_sph_harm",
    "wigner_D",
]

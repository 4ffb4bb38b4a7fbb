"""The sequential part of functional Tucker: Kalman filtering and RTS smoothing over sorted coordinates.

Every kernel has a plain-numpy reference (:mod:`.reference`, the oracle of the tests), a Numba CPU
version (:mod:`.cpu`, ``nogil``, hand-written small solves) and a GPU entry (:mod:`.cuda`). The
recursion is sequential over coordinates and its per-step algebra is small (``R d x R d``), so the
GPU entry copies the per-coordinate messages to the host, runs the Numba kernel and copies the
states back: one transfer each way per mode and epoch instead of a kernel launch per coordinate.

State layout: ``R`` independent functions with ``d``-dimensional states, function-major
(entry ``r * d + c``); the observed part is the first entry of each function's state.
"""

from __future__ import annotations

from ...backend import kernel_implementation

__all__ = ["rts_smoother"]


def rts_smoother(A, Q, P0, lam, eta, backend: str):
    r"""Filter and smooth ``R`` functions observed through Gaussian information messages.

    Prior: ``s_0 ~ N(0, I_R (x) P0)``, ``s_i = (I_R (x) A_i) s_{i-1} + q_i``,
    ``q_i ~ N(0, I_R (x) Q_i)``. At coordinate ``i`` the message on the function values
    ``u_i = H s_i`` is ``exp(-u^T lam_i u / 2 + eta_i^T u)`` (``lam_i`` may be singular). The filter
    update in information form, with ``S = H P H^T``:

    .. math::

        m^+ = m + P H^\top (I + \Lambda S)^{-1} (\eta - \Lambda H m), \qquad
        P^+ = P - P H^\top (I + \Lambda S)^{-1} \Lambda H P,

    then the Rauch-Tung-Striebel smoother ``G = P^+_i A^\top P_{i+1|i}^{-1}``.

    Parameters
    ----------
    A, Q : arrays (n, d, d)
        Transition into coordinate ``i`` from ``i - 1`` (entry 0 unused).
    P0 : array (d, d)
        Stationary covariance of one function.
    lam : array (n, R, R), eta : array (n, R)
    backend : {"numpy", "numba", "cupy"}

    Returns
    -------
    m_f, P_f, m_s, P_s : arrays (n, R d), (n, R d, R d), (n, R d), (n, R d, R d)
        Filtered and smoothed state means and covariances (on the device of ``lam``).
    """
    return kernel_implementation(__name__, "rts_smoother", backend)(A, Q, P0, lam, eta)

"""Darcy data: solver against exact solutions (O(h^2)), resolution-independent fields, datasets."""

from __future__ import annotations

import numpy as np
import pytest

from physics.pde import darcy, gaussian_random_field, load_darcy, save_darcy, solve_darcy


def _manufactured(n):
    """a = 1 + x y + sin(pi y)^2 / 2, u = sin(pi x) sin(2 pi y) x, f = -div(a grad u) (exact)."""
    s = np.linspace(0.0, 1.0, n)
    x, y = np.meshgrid(s, s, indexing="ij")
    pi = np.pi
    a = 1 + x * y + 0.5 * np.sin(pi * y) ** 2
    ax, ay = y, x + pi * np.sin(pi * y) * np.cos(pi * y)
    u = x * np.sin(pi * x) * np.sin(2 * pi * y)
    ux = (np.sin(pi * x) + pi * x * np.cos(pi * x)) * np.sin(2 * pi * y)
    uy = 2 * pi * x * np.sin(pi * x) * np.cos(2 * pi * y)
    uxx = (2 * pi * np.cos(pi * x) - pi**2 * x * np.sin(pi * x)) * np.sin(2 * pi * y)
    uyy = -4 * pi**2 * u
    f = -(ax * ux + ay * uy + a * (uxx + uyy))
    return a, f, u


def test_solver_converges_at_second_order():
    errors = []
    sizes = [17, 33, 65]
    for n in sizes:
        a, f, u = _manufactured(n)
        errors.append(np.abs(solve_darcy(a, f) - u).max())
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 1.9), (errors, rates)
    assert errors[-1] < 2e-3


def test_constant_coefficient_reproduces_discrete_quadratic_exactly():
    # u = x(1-x) y(1-y) has vanishing 4th derivatives in each variable separately, so the 5-point
    # scheme is exact for it: -Laplace u = 2 y(1-y) + 2 x(1-x)
    n = 9
    s = np.linspace(0, 1, n)
    x, y = np.meshgrid(s, s, indexing="ij")
    u = x * (1 - x) * y * (1 - y)
    f = 3.0 * (2 * y * (1 - y) + 2 * x * (1 - x))
    np.testing.assert_allclose(solve_darcy(np.full((n, n), 3.0), f), u, atol=1e-14)


def test_solver_matches_a_dense_assembly():
    # an independent assembly: -div(a grad u) as D^T A D with face-averaged coefficients
    rng = np.random.default_rng(0)
    n = 7
    a = rng.uniform(1, 5, (n, n))
    h = 1 / (n - 1)
    m = n - 2
    idx = lambda i, j: (i - 1) * m + (j - 1)  # noqa: E731
    dense = np.zeros((m * m, m * m))
    for i in range(1, n - 1):
        for j in range(1, n - 1):
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                face = 0.5 * (a[i, j] + a[i + di, j + dj])
                dense[idx(i, j), idx(i, j)] += face / h**2
                if 0 < i + di < n - 1 and 0 < j + dj < n - 1:
                    dense[idx(i, j), idx(i + di, j + dj)] -= face / h**2
    expected = np.linalg.solve(dense, np.ones(m * m)).reshape(m, m)
    np.testing.assert_allclose(solve_darcy(a)[1:-1, 1:-1], expected, rtol=1e-12)


def test_dataset_properties():
    a, u = darcy(3, 16, random_state=0, progress=False)
    assert a.shape == u.shape == (3, 16, 16)
    assert set(np.unique(a)) <= {3.0, 12.0}
    assert 0.2 < np.mean(a == 12.0) < 0.8
    assert np.all(u[:, 0, :] == 0) and np.all(u[:, :, -1] == 0)
    assert np.all(u[:, 1:-1, 1:-1] > 0)  # maximum principle for f = 1 > 0


def test_same_random_state_same_fields_at_any_resolution():
    a16, _ = darcy(2, 17, random_state=5, progress=False)
    a33, _ = darcy(2, 33, random_state=5, progress=False)
    # nodes of the 17-grid are every other node of the 33-grid
    np.testing.assert_array_equal(a33[:, ::2, ::2], a16)
    coefficients = np.random.default_rng(1).standard_normal((64, 64))
    coarse = gaussian_random_field(coefficients, 9)
    fine = gaussian_random_field(coefficients, 17)
    np.testing.assert_allclose(fine[::2, ::2], coarse, atol=1e-12)
    other, _ = darcy(2, 17, random_state=6, progress=False)
    assert not np.array_equal(other, a16)


def test_solutions_converge_across_resolutions():
    # the same field solved at 33 and 65 nodes agrees on the shared nodes to discretization error
    _, u33 = darcy(1, 33, random_state=2, progress=False)
    _, u65 = darcy(1, 65, random_state=2, progress=False)
    assert np.abs(u65[:, ::2, ::2] - u33).max() < 0.05 * np.abs(u65).max()


def test_save_load_roundtrip(tmp_path):
    a, u = darcy(2, 8, random_state=0, progress=False)
    path = tmp_path / "darcy.npz"
    save_darcy(path, a, u)
    a2, u2 = load_darcy(path)
    np.testing.assert_array_equal(a2, a)
    np.testing.assert_array_equal(u2, u)
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="format"):
        load_darcy(tmp_path / "other.npz")


def test_bad_input():
    with pytest.raises(ValueError, match="resolution"):
        darcy(2, 2)
    with pytest.raises(TypeError, match="n_samples"):
        darcy(2.5, 16)
    with pytest.raises(ValueError, match="n_samples"):
        darcy(0, 16)
    with pytest.raises(ValueError, match="positive"):
        solve_darcy(-np.ones((5, 5)))
    with pytest.raises(ValueError, match="square"):
        solve_darcy(np.ones((5, 6)))
    with pytest.raises(ValueError, match="same shape"):
        save_darcy("unused.npz", np.ones((2, 4, 4)), np.ones((2, 5, 5)))


def test_darcy_refuses_a_dataset_that_cannot_fit():
    from physics.pde import darcy

    with pytest.raises(MemoryError, match="darcy_to_zarr"):
        darcy(10**9, 64, progress=False)


# ------------------------------------------------------------------ cell-averaged coefficient
def _layered(n, sub, xi, a_left=3.0, a_right=12.0):
    """Sub-samples of a coefficient layered normal to the first axis (a_left for x < xi) and the
    sub-sample abscissae, laid out as darcy's cell sub-samples."""
    h = 1 / (n - 1)
    x = (np.linspace(0, 1, n)[:, None] + ((np.arange(sub) + 0.5) / sub - 0.5) * h).ravel()
    fine = np.where(x[:, None] < xi, a_left, a_right) * np.ones((1, n * sub))
    return fine, x


def test_cell_faces_are_series_along_and_parallel_across_the_flux():
    from physics.pde._darcy import _cell_coefficients

    n, sub, xi = 5, 8, 0.3
    fine, x = _layered(n, sub, xi)
    a, (a_x, a_y) = _cell_coefficients(fine, n)
    h = 1 / (n - 1)
    nodes = np.linspace(0, 1, n)
    # the face between x_i and x_{i+1}: resistances h / S / a of its S sub-samples in series
    for i in range(n - 1):
        along = x[(x > nodes[i]) & (x < nodes[i + 1])]
        assert len(along) == sub
        conductance = h / np.sum((h / sub) / np.where(along < xi, 3.0, 12.0))
        np.testing.assert_allclose(a_x[i], conductance, rtol=1e-14)
    # faces normal to the layers' direction see the layers in parallel: the cell mean
    cell_mean = np.array([np.mean(np.where(x[i * sub:(i + 1) * sub] < xi, 3.0, 12.0)) for i in range(n)])
    np.testing.assert_allclose(a, np.repeat(cell_mean[:, None], n, axis=1), rtol=1e-14)
    np.testing.assert_allclose(a_y, np.repeat(cell_mean[:, None], n - 1, axis=1), rtol=1e-14)
    # the transposed field swaps the roles
    a_t, (a_x_t, a_y_t) = _cell_coefficients(fine.T, n)
    np.testing.assert_allclose(a_t, a.T, rtol=1e-14)
    np.testing.assert_allclose(a_y_t, a_x.T, rtol=1e-14)
    np.testing.assert_allclose(a_x_t, a_y.T, rtol=1e-14)


def test_solver_with_arithmetic_faces_is_the_default_and_faces_are_checked():
    a = np.random.default_rng(0).uniform(1, 5, (7, 7))
    faces = (0.5 * (a[1:] + a[:-1]), 0.5 * (a[:, 1:] + a[:, :-1]))
    np.testing.assert_array_equal(solve_darcy(a, faces=faces), solve_darcy(a))
    with pytest.raises(TypeError, match="pair"):
        solve_darcy(a, faces=faces[0])
    with pytest.raises(ValueError, match="shape"):
        solve_darcy(a, faces=(faces[1], faces[0]))
    with pytest.raises(ValueError, match="positive"):
        solve_darcy(a, faces=(-faces[0], faces[1]))
    with pytest.raises(ValueError, match="finite"):
        solve_darcy(a, faces=(faces[0], np.full_like(faces[1], np.nan)))


def test_cell_data_are_more_accurate_than_node_data():
    # against converged solutions of either scheme (129 nodes; the 17- and 33-grids are nested)
    _, ref_cell = darcy(2, 129, coefficient="cell", random_state=3, progress=False)
    _, ref_nodes = darcy(2, 129, random_state=3, progress=False)
    for n, step in ((17, 8), (33, 4)):
        a, u_cell = darcy(2, n, coefficient="cell", random_state=3, progress=False)
        _, u_nodes = darcy(2, n, random_state=3, progress=False)
        assert np.all((a >= 3) & (a <= 12)) and 0 < np.mean((a > 3) & (a < 12)) < 0.5
        for ref in (ref_cell[:, ::step, ::step], ref_nodes[:, ::step, ::step]):
            err_cell = np.linalg.norm(u_cell - ref) / np.linalg.norm(ref)
            err_nodes = np.linalg.norm(u_nodes - ref) / np.linalg.norm(ref)
            assert err_cell < 0.4 * err_nodes, (n, err_cell, err_nodes)


def _low_modes(a, k_max=6):
    """Fourier modes |k| <= k_max (mean removed) of nodal fields folded onto the periodic grid."""
    b = a[:, :-1, :-1].copy()
    b[:, 0, :] = 0.5 * (a[:, 0, :-1] + a[:, -1, :-1])
    b[:, :, 0] = 0.5 * (a[:, :-1, 0] + a[:, :-1, -1])
    b[:, 0, 0] = 0.25 * (a[:, 0, 0] + a[:, 0, -1] + a[:, -1, 0] + a[:, -1, -1])
    n = b.shape[-1]
    keep = np.abs(np.fft.fftfreq(n, 1 / n)) <= k_max
    modes = (np.fft.fft2(b) / n**2)[:, keep][:, :, keep]
    modes[:, 0, 0] = 0
    return modes


def test_cell_averages_keep_their_low_modes_across_resolutions():
    mismatch = {}
    for coefficient in ("nodes", "cell"):
        coarse = _low_modes(darcy(6, 33, coefficient=coefficient, random_state=4, progress=False)[0])
        fine = _low_modes(darcy(6, 65, coefficient=coefficient, random_state=4, progress=False)[0])
        mismatch[coefficient] = np.linalg.norm(coarse - fine) / np.linalg.norm(fine)
    assert mismatch["cell"] < 0.03 and mismatch["nodes"] > 2 * mismatch["cell"], mismatch


def test_field_at_given_points_and_cell_option_bad_input():
    coefficients = np.random.default_rng(1).standard_normal((8, 8))
    np.testing.assert_array_equal(gaussian_random_field(coefficients, 9, points=np.linspace(0, 1, 9)),
                                  gaussian_random_field(coefficients, 9))
    with pytest.raises(ValueError, match="coefficient"):
        darcy(1, 8, coefficient="edges", progress=False)
    with pytest.raises(ValueError, match="even"):
        darcy(1, 8, coefficient="cell", subsamples=3, progress=False)
    with pytest.raises(ValueError, match="subsamples"):
        darcy(1, 8, coefficient="cell", subsamples=0, progress=False)
    with pytest.raises(TypeError, match="subsamples"):
        darcy(1, 8, coefficient="cell", subsamples=True, progress=False)

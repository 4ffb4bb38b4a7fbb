"""``tensorkit lstsq`` and the demo section."""

from __future__ import annotations

import numpy as np
import pytest

from tensorkit.cli import DemoOptions, main


def test_lstsq_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3000, 6))
    b = A @ np.arange(6.0) + 0.01 * rng.standard_normal(3000)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "x.npy"
    code = main(["lstsq", str(tmp_path / "A.npy"), str(tmp_path / "b.npy"),
                 "--method", "sketch_precondition", "--sketch", "gaussian", "-o", str(out)])
    assert code == 0
    np.testing.assert_allclose(np.load(out), np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-8)
    assert "sketch_precondition" in capsys.readouterr().out


def test_lstsq_command_bad_input(tmp_path, capsys):
    np.save(tmp_path / "A.npy", np.ones((10, 2)))
    np.save(tmp_path / "b.npy", np.ones(9))
    args = ["lstsq", str(tmp_path / "A.npy"), str(tmp_path / "b.npy"), "-o", str(tmp_path / "x.npy")]
    assert main(args) == 2
    assert "b has 9 rows but A has 10" in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists()
    assert main([*args[:-1], str(tmp_path / "x.txt")]) == 2
    with pytest.raises(SystemExit):
        main(["lstsq", "A.npy", "b.npy", "--method", "qr", "-o", "x.npy"])


def test_demo_section_quick(capsys):
    from tensorkit.sketch._demo import run

    run(DemoOptions(quick=True, progress=False))
    out = capsys.readouterr().out
    assert "sketch_precondition" in out and "numpy.linalg.lstsq" in out


@pytest.mark.parametrize("flag", ["--n-iter-max", "--max-iter"])
def test_lstsq_command_iteration_cap(tmp_path, capsys, flag):
    import warnings

    rng = np.random.default_rng(1)
    A = rng.standard_normal((3000, 5))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", A @ np.ones(5) + 0.01 * rng.standard_normal(3000))
    args = ["lstsq", str(tmp_path / "A.npy"), str(tmp_path / "b.npy"), "--method", "sketch_precondition",
            "--tol", "1e-30", flag, "2", "-o", str(tmp_path / "x.npy")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the old flag name maps to n_iter_max
        with pytest.warns(RuntimeWarning, match="n_iter_max=2"):
            assert main(args) == 0
    assert "iterations   2 " in capsys.readouterr().out

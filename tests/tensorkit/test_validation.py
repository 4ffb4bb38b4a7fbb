"""The validation module (issue 10): check_finite, float16 and big-endian conversion, allocation
bounds past int64, bool refused everywhere, messages naming the argument."""

import numpy as np
import pytest

from tensorkit.backend import check_random_state, thread_limits
from tensorkit.extend import (
    as_float_array,
    check_allocation,
    check_choice,
    check_dense_tensor,
    check_dtype,
    check_int,
    check_real,
    check_stop_tol,
    check_tol,
    per_axis,
)


def test_as_float_array_check_finite_keyword():
    x = np.array([1.0, np.nan, np.inf])
    with pytest.raises(ValueError, match="x contains 2 non-finite"):
        as_float_array(x, "x")
    out = as_float_array(x, "x", check_finite=False)
    assert out is x


@pytest.mark.parametrize("dtype, expected", [
    (np.float16, np.float32), (">f2", np.float32), (">f4", np.float32), (">f8", np.float64),
    ("<f8", np.float64), (">i4", np.float64), (">u2", np.float64), (">c16", np.complex128),
])
def test_as_float_array_converts_float16_and_big_endian(dtype, expected):
    x = np.arange(4).astype(dtype)
    out = as_float_array(x, "x")
    assert out.dtype == np.dtype(expected) and out.dtype.isnative
    np.testing.assert_array_equal(out, np.arange(4))


def test_as_float_array_refuses_what_is_not_numbers():
    with pytest.raises(TypeError, match="tensor must hold numbers"):
        as_float_array(np.array(["a"]), "tensor")
    with pytest.raises(TypeError, match="tensor must be real"):
        as_float_array(np.ones(2, complex), "tensor", allow_complex=False)
    with pytest.raises(TypeError, match="tensor must hold numbers"):
        as_float_array(np.array([object()]), "tensor")


def test_check_allocation_bounds():
    check_allocation((10, 10), np.float64, "small")
    check_allocation((0, 10**30), np.float64, "empty")  # nothing to allocate: no product overflow
    with pytest.raises(MemoryError, match=r"the table of shape \(1000000, 1000000\) needs .* GiB; chunk it"):
        check_allocation((10**6, 10**6), np.float64, "the table", alternative="chunk it")
    # a shape whose product overflows int64: MemoryError, not OverflowError
    with pytest.raises(MemoryError, match="more than a 64-bit index can address; use the factors"):
        check_allocation((2**40, 2**40), np.int8, "the dense tensor", alternative="use the factors")
    with pytest.raises(MemoryError):
        check_allocation(np.array([2**62, 4], dtype=np.int64), np.float64, "T")
    with pytest.raises(ValueError, match=r"T: shape\[1\] must be >= 0"):
        check_allocation((3, -1), np.float64, "T")
    with pytest.raises(TypeError, match=r"T: shape\[0\] must be an int"):
        check_allocation((1e30,), np.float64, "T")
    with pytest.raises(TypeError, match=r"T: shape\[0\] must be an int"):
        check_allocation((float("inf"),), np.float64, "T")


def test_check_random_state_bool_message_shows_the_value():
    with pytest.raises(TypeError, match=r"random_state must be .* got True \(bool\)"):
        check_random_state(True)
    with pytest.raises(TypeError, match=r"got 1.5 \(float\)"):
        check_random_state(1.5)


@pytest.mark.parametrize(
    "value, exc", [(True, TypeError), (0, ValueError), (-1, ValueError), (1.0, TypeError)]
)
def test_thread_limits_refuses_bools_and_non_positive(value, exc):
    with pytest.raises(exc, match="n_threads"), thread_limits(value):
        pass


CATALOGUE = [
    (lambda: check_int(True, "rank"), TypeError, "rank"),
    (lambda: check_int(np.bool_(True), "rank"), TypeError, "rank"),
    (lambda: check_int(2.0, "rank"), TypeError, "rank"),
    (lambda: check_int("3", "rank"), TypeError, "rank"),
    (lambda: check_int(0, "rank", minimum=1), ValueError, "rank must be >= 1, got 0"),
    (lambda: check_int(9, "rank", maximum=8), ValueError, "rank must be <= 8, got 9"),
    (lambda: check_real(True, "lr"), TypeError, "lr"),
    (lambda: check_real(1j, "lr"), TypeError, "lr"),
    (lambda: check_real(np.nan, "lr"), ValueError, "lr must be finite"),
    (lambda: check_real(np.inf, "lr"), ValueError, "lr must be finite"),
    (lambda: check_real(0.0, "lr", minimum=0.0, strict_minimum=True), ValueError, "lr must be > 0"),
    (lambda: check_tol(0.0), ValueError, "tol"),
    (lambda: check_tol(1.0), ValueError, "tol"),
    (lambda: check_tol(np.nan), ValueError, "tol"),
    (lambda: check_stop_tol(np.nan), ValueError, "stop_tol"),
    (lambda: check_stop_tol(-1.0), ValueError, "stop_tol"),
    (lambda: check_choice("x", "method", ("a", "b")), ValueError, "method"),
    (lambda: check_choice(True, "flag", (1, 0)), ValueError, "flag"),
    (lambda: check_choice(np.zeros(3), "method", ("a", "b")), ValueError, "method must be one of"),
    (lambda: check_choice([1], "method", ("a",)), ValueError, "method"),
    (lambda: check_dtype("int32"), TypeError, "dtype"),
    (lambda: check_dtype("nonsense"), TypeError, "dtype"),
    (lambda: per_axis((1, 2, 3), 2, "kernel_size"), ValueError, "kernel_size"),
    (lambda: check_dense_tensor(np.ones((2, 0)), "X"), ValueError, "X has an empty mode"),
    (lambda: check_dense_tensor(np.ones(3), "X", min_ndim=2), ValueError, "X must have order >= 2"),
    (lambda: check_dense_tensor(np.ones(3, complex), "X", allow_complex=False), TypeError, "X must be real"),
]


@pytest.mark.parametrize("call, exc, text", CATALOGUE, ids=[f"case{i}" for i in range(len(CATALOGUE))])
def test_bad_input_catalogue(call, exc, text):
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value)


@pytest.mark.parametrize("progress", ["no", 0, 1, None, 1.0])
def test_progress_must_be_a_bool(progress):
    """A truthy non-bool (progress="no") would silently turn the bar on."""
    import tensorkit
    from tensorkit.extend import progress_bar

    with pytest.raises(TypeError, match="progress must be a bool"):
        progress_bar(progress, total=3)
    with pytest.raises(TypeError, match="progress must be a bool"):
        tensorkit.tucker(np.ones((3, 3, 3)), rank=(1, 1, 1), progress=progress)
    with progress_bar(np.bool_(False), total=3) as bar:
        bar.update()

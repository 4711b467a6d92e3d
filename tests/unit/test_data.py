import numpy as np
import pytest

from converter.data import Dataset, calibration_indices, check_fits, load_dataset
from converter.errors import DataError


def test_npz_with_labels_and_npy_without(tmp_path):
    x = np.zeros((5, 8, 8, 1), np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(5))
    np.save(tmp_path / "d.npy", x)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.x.shape == (5, 8, 8, 1) and list(ds.y) == [0, 1, 2, 3, 4]
    assert load_dataset(str(tmp_path / "d.npy")).y is None


def test_demo_is_the_held_back_digits():
    ds = load_dataset("demo")
    assert ds.x.shape == (360, 8, 8, 1) and 0 <= ds.x.min() and ds.x.max() <= 1


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.mkdir(), p)[1], "is a folder"),
    (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
    (lambda p: (p.write_text("a,b\n1,2\n"), p)[1], "unsupported data format"),
])
def test_unreadable_inputs(tmp_path, make, message):
    suffix = ".csv" if "unsupported" in message else ".npz"
    path = make(tmp_path / f"d{suffix}")
    with pytest.raises(DataError, match=message):
        load_dataset(str(path))


def test_npz_without_x_and_nan_samples(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 3)))
    with pytest.raises(DataError, match="no array named 'x' \\(found: images\\)"):
        load_dataset(str(tmp_path / "a.npz"))
    x = np.zeros((4, 3), np.float32)
    x[1, 2] = np.nan
    x[3, 0] = np.inf
    np.save(tmp_path / "b.npy", x)
    with pytest.raises(DataError, match="2 sample\\(s\\) contain NaN or Inf"):
        load_dataset(str(tmp_path / "b.npy"))


def test_garbage_npz_is_a_clear_error(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="cannot read .* as .npz"):
        load_dataset(str(tmp_path / "g.npz"))


def test_check_fits_names_both_shapes():
    ds = Dataset(np.zeros((3, 28, 28)), None, "mnist.npz")
    with pytest.raises(DataError, match=r"shape \(28, 28\) but the model expects \(8, 8, 1\)"):
        check_fits(ds, [(None, 8, 8, 1)])
    check_fits(Dataset(np.zeros((3, 8, 8, 1)), None, "ok"), [(1, 8, 8, 1)])
    check_fits(Dataset(np.zeros((3, 5, 7)), None, "ok"), [(None, None, 7)])
    with pytest.raises(DataError, match="the model has 2 inputs but mnist.npz gives 1 array"):
        check_fits(ds, [(None, 28, 28), (None, 3)])


def test_multi_input_npz(tmp_path):
    np.savez(tmp_path / "m.npz", x1=np.ones((4, 3)), x0=np.zeros((4, 2)), y=np.arange(4))
    ds = load_dataset(str(tmp_path / "m.npz"))
    assert [a.shape for a in ds.inputs] == [(4, 2), (4, 3)] and len(ds) == 4
    assert [a.shape for a in ds.take(np.array([0, 2])).inputs] == [(2, 2), (2, 3)]


def test_calibration_is_seeded_and_stratified():
    y = np.repeat(np.arange(10), [100] * 9 + [10])
    ds = Dataset(np.zeros((len(y), 2)), y, "s")
    a = calibration_indices(ds, 50, seed=1)
    assert np.array_equal(a, calibration_indices(ds, 50, seed=1))
    assert not np.array_equal(a, calibration_indices(ds, 50, seed=2))
    assert len(a) == 50 and len(set(a)) == 50
    assert set(y[a]) == set(range(10))  # the rare class is represented too
    assert len(calibration_indices(ds, 5000, seed=0)) == len(y)

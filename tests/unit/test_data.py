import numpy as np
import pytest

from converter.inputs.data import Dataset, calibration_indices, check_fits, checked_labels, class_count, load_dataset
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
    (lambda p: (p.mkdir(), p)[1], "no PNG or JPEG images in"),
    (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
    (lambda p: (p.write_text("a,b\n1,2\n"), p)[1], "unsupported data format"),
])
def test_unreadable_inputs(tmp_path, make, message):
    suffix = ".txt" if "unsupported" in message else ".npz"
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
    with pytest.raises(DataError, match="g.npz is not an .npz file"):
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


def test_npz_arrays_named_after_the_inputs_are_taken_by_name(tmp_path):
    np.savez(tmp_path / "n.npz", vector=np.ones((4, 3)), image=np.zeros((4, 2)), y=np.arange(4))
    ds = load_dataset(str(tmp_path / "n.npz"), input_names=["image", "vector"])
    assert [a.shape for a in ds.inputs] == [(4, 2), (4, 3)]
    with pytest.raises(DataError, match=r"no array named 'x' or one named after each model input \(image, audio\) "
                                        r"\(found: vector, image, y\)"):
        load_dataset(str(tmp_path / "n.npz"), input_names=["image", "audio"])


def test_calibration_is_seeded_and_stratified():
    y = np.repeat(np.arange(10), [100] * 9 + [10])
    ds = Dataset(np.zeros((len(y), 2)), y, "s")
    a = calibration_indices(ds, 50, seed=1)
    assert np.array_equal(a, calibration_indices(ds, 50, seed=1))
    assert not np.array_equal(a, calibration_indices(ds, 50, seed=2))
    assert len(a) == 50 and len(set(a)) == 50
    assert set(y[a]) == set(range(10))  # the rare class is represented too
    assert len(calibration_indices(ds, 5000, seed=0)) == len(y)


def _png(path, value, size=(10, 12), mode="RGB"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size[1], size[0]), value).save(path)


def test_image_folder_with_classes_resized_to_model_input(tmp_path):
    from converter.inputs.preprocess import Preprocess

    _png(tmp_path / "cat" / "a.png", (255, 0, 0))
    _png(tmp_path / "cat" / "b.jpg", (250, 0, 0))
    _png(tmp_path / "dog" / "c.PNG", (0, 0, 255))
    ds = load_dataset(str(tmp_path), Preprocess(scale=1 / 255), input_shape=(None, 4, 5, 3))
    assert ds.x.shape == (3, 4, 5, 3) and list(ds.y) == [0, 0, 1] and ds.classes == ("cat", "dog")
    assert ds.x.dtype == np.float32 and ds.x[0, 0, 0, 0] == pytest.approx(1.0)
    bgr = load_dataset(str(tmp_path), Preprocess(scale=1 / 255, channel_order="bgr"), input_shape=(None, 4, 5, 3))
    assert bgr.x[0, 0, 0, 2] == pytest.approx(1.0)
    gray = load_dataset(str(tmp_path), Preprocess(resize=(8, 8)), input_shape=(None, 4, 5, 1))
    assert gray.x.shape == (3, 8, 8, 1)


def test_unreadable_image_is_named(tmp_path):
    _png(tmp_path / "a" / "ok.png", (1, 2, 3))
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        load_dataset(str(tmp_path), input_shape=(None, 4, 4, 3))


def test_csv_with_named_label_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,kind,b\n1,spam,2.5\n3,ham,4\n5,spam,6\n")
    ds = load_dataset(str(tmp_path / "t.csv"), label_column="kind")
    assert ds.x.tolist() == [[1, 2.5], [3, 4], [5, 6]] and list(ds.y) == [1, 0, 1] and ds.classes == ("ham", "spam")
    with pytest.raises(DataError, match="label column 'label' is not in .* \\(columns: a, kind, b\\)"):
        load_dataset(str(tmp_path / "t.csv"), label_column="label")
    with pytest.raises(DataError, match="line 2, column 'kind': 'spam' is not a number"):
        load_dataset(str(tmp_path / "t.csv"))


def test_preprocess_spec_round_trips_and_applies():
    from converter.inputs.preprocess import Preprocess

    spec = Preprocess(resize=(4, 4), mean=(127.5,), std=(127.5,), grayscale=True)
    assert Preprocess.from_json(spec.to_json()) == spec
    assert spec.apply(np.array([0, 255])).tolist() == [-1.0, 1.0]
    with pytest.raises(DataError, match="--mean and --std go together"):
        Preprocess(mean=(1.0,))


def test_raw_pixels_trigger_a_range_warning():
    from converter.inputs.preprocess import Preprocess, range_warning

    raw = np.arange(256, dtype=np.float32).reshape(1, 16, 16)
    assert "like raw pixels" in range_warning(raw, Preprocess())
    assert range_warning(raw / 255, Preprocess()) is None


BAD_LABELS = [  # (y for 4 samples of a 10-class model, the first line of the error)
    (np.array([0, 1, 10, 2]), "label 10 (sample 2) is out of range: the model has 10 classes (0..9)"),
    (np.array([0, -1, 2, 3]), "label -1 (sample 1) is negative"),
    (np.array([0.0, 1.0, 2.5, 3.0]), "label 2.5 (sample 2) is not a whole number"),
    (np.array([0.0, np.nan, 2.0, 3.0]), "label nan (sample 1) is not a whole number"),
    (np.array(["cat", "dog", "cat", "dog"]), "labels (y) have dtype <U3, not class indices"),
    (np.eye(10)[[0, 1, 2, 3]], "labels (y) have shape (4, 10): a row of scores per sample (one-hot?), "
                               "but class indices are expected"),
    (np.array([0, 1, 2]), "x has 4 samples but y has 3 labels"),
    (np.zeros((4, 2, 2), int), "labels (y) have shape (4, 2, 2), but one class index per sample is expected"),
]


@pytest.mark.parametrize("y, message", BAD_LABELS)
def test_labels_that_cannot_be_right_are_refused_on_load(tmp_path, y, message):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 3), np.float32), y=y)
    with pytest.raises(DataError) as e:
        load_dataset(str(tmp_path / "d.npz"), output_shapes=[(None, 10)])
    assert e.value.message == f"{tmp_path / 'd.npz'}: {message}" and e.value.hint


def test_good_labels_become_a_vector_of_indices(tmp_path):
    x = np.zeros((4, 3), np.float32)
    for y in (np.array([0, 9, 2, 3]), np.array([[0.0], [9.0], [2.0], [3.0]]), np.array([True, False, True, True])):
        ds = checked_labels(Dataset(x, y, "d"), 10)
        assert ds.y.dtype == np.int64 and ds.y.tolist() == y.ravel().astype(int).tolist()
    assert checked_labels(Dataset(x, np.array([0, 1, 99, 3]), "d"), None).y.tolist() == [0, 1, 99, 3]


def test_class_count_from_output_shapes():
    assert class_count([(None, 10)]) == 10 and class_count([(1, 1)]) == 2  # a sigmoid unit: labels 0 and 1
    assert class_count([]) is None and class_count([(None, 10), (None, 4)]) is None
    assert class_count([(None, 8, 8, 3)]) is None and class_count([(None, None)]) is None


def test_constant_and_huge_data_trigger_their_own_warnings():
    from converter.inputs.preprocess import Preprocess, range_warning

    assert range_warning(np.zeros((4, 8, 8, 1), np.float32), Preprocess()).startswith("every data value is 0:")
    huge = np.array([[0.0, 1e30]], np.float32)
    assert range_warning(huge, Preprocess()).startswith("data values span 0..1e+30, far beyond pixels")


def test_mean_and_std_must_fit_the_channels_and_be_finite():
    from converter.inputs.preprocess import Preprocess

    with pytest.raises(DataError, match=r"^--mean has 3 values but the data has 1 channel\(s\)"):
        Preprocess(mean=(1.0, 2.0, 3.0), std=(1.0,)).apply(np.zeros((2, 8, 8, 1)))
    for bad in ({"scale": float("nan")}, {"offset": float("inf")}, {"mean": (0.0,), "std": (float("nan"),)}):
        with pytest.raises(DataError, match="must be finite"):
            Preprocess(**bad)

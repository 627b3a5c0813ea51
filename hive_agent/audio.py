"""Audio at the pipeline's boundary: any rate, any channel count in; 16 kHz mono float32 out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr

from .errors import AudioFormatError

SAMPLE_RATE = 16_000
MIN_RATE, MAX_RATE = 8_000, 192_000


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

    def convert(self, samples: np.ndarray, sample_rate: int, num_channels: int = 1) -> np.ndarray:
        if not isinstance(sample_rate, (int, np.integer)) or not MIN_RATE <= sample_rate <= MAX_RATE:
            raise AudioFormatError(
                f"sample rate {sample_rate!r} Hz is not supported; give {MIN_RATE}-{MAX_RATE} Hz audio")
        if num_channels < 1:
            raise AudioFormatError(f"num_channels must be >= 1, got {num_channels}")
        mono = _as_float_mono(samples, num_channels)
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


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Read wav/flac/ogg with libsndfile, anything else (mp3, m4a) with PyAV.

    Returns (samples shaped (frames, channels) float32, sample rate)."""
    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"audio file not found: {path}")
    try:
        import soundfile

        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data, int(rate)
    except Exception:  # noqa: BLE001 - not a libsndfile format; PyAV decodes the rest
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
    except Exception as exc:  # noqa: BLE001
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

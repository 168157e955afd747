"""The in-memory result of reading a flight file: `Flight`, its `ReadReport`, and `FlightFormatError`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class FlightFormatError(ValueError):
    """A flight file could not be read; the message names the file and the line or message index."""


@dataclass
class ReadReport:
    """What a reader kept and dropped (reason -> count), plus the first few problems in words."""
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    MAX_NOTES = 5

    def drop(self, reason: str, count: int = 1, note: str | None = None) -> None:
        """Count `count` dropped samples under `reason`; keep the first few `note`s."""
        if count <= 0:
            return
        self.dropped[reason] = self.dropped.get(reason, 0) + count
        if note and len(self.notes) < self.MAX_NOTES:
            self.notes.append(note)

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())


@dataclass(eq=False)  # array fields: equality is identity
class Flight:
    """One flight as read: stamps (s), world-frame ENU positions (m), optional velocities/quaternions."""
    name: str
    source: str
    t: np.ndarray
    p: np.ndarray
    v: np.ndarray | None = None
    q: np.ndarray | None = None
    report: ReadReport = field(default_factory=ReadReport)
    extra: np.ndarray | None = None   # (N, K) extra columns of a text file, only when asked for
    noise: np.ndarray | None = None   # (N,) measurement-noise level (m) of a supplied covariance per sample
                                      # (data.noise.covariance_level; 0 or NaN: none), sources that carry one

    def __len__(self) -> int:
        return len(self.t)

    @property
    def duration(self) -> float:
        """Span of the stamps in seconds (0 for fewer than two samples)."""
        return float(np.nanmax(self.t) - np.nanmin(self.t)) if len(self.t) > 1 else 0.0


def finite_rows(*arrays: np.ndarray | None) -> np.ndarray:
    """Boolean mask of rows where every given array (1-D or 2-D, None skipped) is finite."""
    mask = None
    for array in arrays:
        if array is None:
            continue
        ok = np.isfinite(array)
        ok = ok.all(axis=1) if ok.ndim == 2 else ok
        mask = ok if mask is None else mask & ok
    return mask


def make_flight(name: str, source: str, t, p, v=None, q=None, report: ReadReport | None = None,
                extra=None, noise=None) -> Flight:
    """Build a Flight, dropping rows whose stamp or position (or velocity) is non-finite (counted)."""
    report = report or ReadReport()
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    p = np.asarray(p, dtype=np.float64).reshape(-1, 3)
    v = None if v is None else np.asarray(v, dtype=np.float64).reshape(-1, 3)
    q = None if q is None else np.asarray(q, dtype=np.float64).reshape(-1, 4)
    extra = None if extra is None else np.asarray(extra, dtype=np.float64).reshape(len(t), -1)
    noise = None if noise is None else np.asarray(noise, dtype=np.float64).reshape(len(t))
    ok = finite_rows(t, p, v)
    if not ok.all():
        bad = int(np.count_nonzero(~ok))
        first = int(np.flatnonzero(~ok)[0])
        report.drop("non-finite", bad, f"{source}: sample {first}: non-finite stamp/position/velocity")
        t, p = t[ok], p[ok]
        v = None if v is None else v[ok]
        q = None if q is None else q[ok]
        extra = None if extra is None else extra[ok]
        noise = None if noise is None else noise[ok]
    report.kept = len(t)
    return Flight(name=name, source=source, t=t, p=p, v=v, q=q, report=report, extra=extra, noise=noise)


def fingerprint(flight: Flight) -> str:
    """A short content hash of a flight's stamps and positions (not its name or path): a checkpoint records
    those of the recorded flights it was trained on, and evaluation recognises them (in-sample figures)."""
    import hashlib
    digest = hashlib.sha1(np.ascontiguousarray(flight.t, np.float64).tobytes())
    digest.update(np.ascontiguousarray(flight.p, np.float64).tobytes())
    return digest.hexdigest()[:16]

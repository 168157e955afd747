"""Text trajectory formats: TUM, EuRoC ASL ground-truth CSV, VECTOR dataset CSV."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..flight import Flight, make_flight
from .table import read_table

NANOSECONDS_ABOVE = 1e14  # a time column larger than this (≈ 3 years in seconds) is in nanoseconds


def _seconds(stamps: np.ndarray) -> np.ndarray:
    """Stamps in seconds; integer nanosecond columns (EuRoC, some CSVs) are recognised by magnitude."""
    finite = stamps[np.isfinite(stamps)]
    if finite.size and np.median(np.abs(finite)) > NANOSECONDS_ABOVE:
        return stamps * 1e-9
    return stamps


def read_tum(path: Path, extra_columns: bool = False) -> Flight:
    """TUM trajectory text: `timestamp tx ty tz qx qy qz qw [extra...]`, `#` comments.

    Extra columns are ignored unless `extra_columns` is True; then the first three extra columns are
    returned as world-frame velocities `Flight.v` (Blackbird's vx vy vz) and all of them as `Flight.extra`.
    """
    table = read_table(path, min_columns=8)
    values = table.values
    extra = values[:, 8:] if extra_columns and values.shape[1] > 8 else None
    velocity = extra[:, :3] if extra is not None and extra.shape[1] >= 3 else None
    flight = make_flight(path.stem, str(path), values[:, 0], values[:, 1:4], v=velocity,
                         q=values[:, 4:8], report=table.report, extra=extra)
    return flight


def read_euroc_csv(path: Path) -> Flight:
    """EuRoC ASL CSV (state_groundtruth_estimate0 or vicon0/leica0 data.csv).

    Columns: `#timestamp [ns], p_RS_R_x, p_RS_R_y, p_RS_R_z, q_RS_w, q_RS_x, q_RS_y, q_RS_z,
    [v_RS_R_x, v_RS_R_y, v_RS_R_z, biases...]`; the position-only leica0 layout (4 columns) is accepted.
    """
    table = read_table(path, min_columns=4, delimiter=",")
    values = table.values
    stamps = _seconds(values[:, 0])
    quaternion = values[:, [5, 6, 7, 4]] if values.shape[1] >= 8 else None  # w,x,y,z -> x,y,z,w
    velocity = values[:, 8:11] if values.shape[1] >= 11 else None
    name = path.parent.parent.name if path.name == "data.csv" and path.parent.parent.name else path.stem
    return make_flight(name, str(path), stamps, values[:, 1:4], v=velocity, q=quaternion,
                       report=table.report)


def read_vector_csv(path: Path) -> Flight:
    """VECTOR's dataset CSV: header `timestamp,tx,ty,tz` (seconds, or nanoseconds by magnitude)."""
    table = read_table(path, min_columns=4, delimiter=",")
    columns = _vector_columns(table.header)
    values = table.values
    return make_flight(path.stem, str(path), _seconds(values[:, columns[0]]), values[:, columns[1:]],
                       report=table.report)


def _vector_columns(header: list[str] | None) -> list[int]:
    """Indices of timestamp, tx, ty, tz from the header (default: the first four columns)."""
    if not header:
        return [0, 1, 2, 3]
    names = [name.lower() for name in header]
    wanted = (("timestamp", "time", "t", "stamp"), ("tx", "x"), ("ty", "y"), ("tz", "z"))
    indices = []
    for options in wanted:
        found = next((names.index(o) for o in options if o in names), None)
        if found is None:
            return [0, 1, 2, 3]
        indices.append(found)
    return indices

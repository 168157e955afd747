"""The protocol's window rule, in one place: every room that scores or trains on windows calls it
(evaluate.protocol.window_indices, train.trainer.predict_flights, sim.kinematic.cv_error_by_speed, the
tests). It lives in data/ because data is below all of them."""
from __future__ import annotations

import numpy as np


def window_indices(length: int, history: int, horizon: int) -> np.ndarray:
    """Grid indices k of the windows in a segment of `length` grid samples: k >= history (that many
    velocities behind the window) and k + horizon <= length - 1 (a full horizon ahead); empty when
    length < history + horizon + 1."""
    last = length - 1 - horizon
    return np.arange(history, max(history, last + 1), dtype=np.int64)

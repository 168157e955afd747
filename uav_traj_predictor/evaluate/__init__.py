"""evaluate room: protocol, metrics, baselines (CV, CA, KF, VECTOR), plots, `uav-traj evaluate`.

See docs/evaluation.md for the protocol and the anchor numbers.
"""
from .methods import SegmentPrediction, MethodUnavailable, build_methods
from .metrics import WindowScores, score_windows, summarise
from .protocol import Protocol, truth_windows, window_indices
from .runner import (build_report, evaluate_flight, evaluate_flights, score_prediction_windows,
                     score_predictions)

__all__ = [
    "MethodUnavailable", "Protocol", "SegmentPrediction", "WindowScores", "build_methods", "build_report",
    "evaluate_flight", "evaluate_flights", "score_prediction_windows", "score_predictions", "score_windows",
    "summarise", "truth_windows", "window_indices",
]

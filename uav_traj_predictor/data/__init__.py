"""data room: readers (TUM, EuRoC CSV, VECTOR CSV, ULog, rosbag2) -> `Flight`; preprocessing -> `Segment`s;
the protocol's window rule. See docs/architecture.md for the contracts."""
from .flight import Flight, FlightFormatError, ReadReport
from .preprocess import (PreprocessConfig, Segment, load_segments, preprocess, segments_from_flight)
from .readers import FORMATS, detect_format, read_flight, read_flights
from .windows import window_indices

__all__ = [
    "FORMATS", "Flight", "FlightFormatError", "PreprocessConfig", "ReadReport", "Segment",
    "detect_format", "load_segments", "preprocess", "read_flight", "read_flights", "segments_from_flight",
    "window_indices",
]

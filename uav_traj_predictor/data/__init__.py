"""data room: readers (TUM, EuRoC CSV, VECTOR CSV, ULog, rosbag2) -> `Flight`; preprocessing -> `Segment`s;
training windows. See docs/architecture.md for the contracts."""
from .flight import Flight, FlightFormatError, ReadReport
from .preprocess import (PreprocessConfig, Segment, load_segments, preprocess, segments_from_flight)
from .readers import FORMATS, detect_format, read_flight, read_flights
from .windows import Windows, make_windows, split_by_flight

__all__ = [
    "FORMATS", "Flight", "FlightFormatError", "PreprocessConfig", "ReadReport", "Segment",
    "Windows", "detect_format", "load_segments", "make_windows", "preprocess", "read_flight", "read_flights",
    "segments_from_flight", "split_by_flight",
]

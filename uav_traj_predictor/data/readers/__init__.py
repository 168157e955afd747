"""One reading API over every supported format: `read_flight(path, fmt=None)`, `read_flights(paths)`.

Formats: "tum", "euroc", "vector", "ulog", "bag". With fmt=None the format is detected from the
extension and the first bytes / first lines of the file (see `detect_format`).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..flight import Flight, FlightFormatError
from .table import SNIFF_BYTES

FORMATS = ("tum", "euroc", "vector", "ulog", "bag")
ULOG_MAGIC = b"ULog\x01\x12\x35"
MCAP_MAGIC = b"\x89MCAP"
SQLITE_MAGIC = b"SQLite format 3\x00"
FLIGHT_SUFFIXES = {".txt", ".tum", ".csv", ".ulg", ".mcap", ".db3", ".bag"}


def is_bag_directory(path: Path) -> bool:
    """A rosbag2 directory (it has a metadata.yaml)."""
    return path.is_dir() and (path / "metadata.yaml").is_file()


def detect_format(path: Path) -> str:
    """Name of the format of `path` from its extension and content; FlightFormatError if unknown."""
    if path.is_dir():
        if is_bag_directory(path):
            return "bag"
        raise FlightFormatError(f"{path}: a directory that is not a rosbag2 (no metadata.yaml)")
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise FlightFormatError(f"{path}: no such file") from None
    except OSError as err:
        raise FlightFormatError(f"{path}: cannot read ({err.strerror})") from None
    if head.startswith(ULOG_MAGIC) or path.suffix == ".ulg":
        return "ulog"
    if head.startswith(MCAP_MAGIC) or head.startswith(SQLITE_MAGIC) or path.suffix in (".mcap", ".db3", ".bag"):
        return "bag"
    return _detect_text_format(path, head)


def _detect_text_format(path: Path, head: bytes) -> str:
    text = head.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    header = " ".join(line for line in lines if line.startswith("#")).lower()
    data = [line for line in lines if not line.startswith("#")]
    first = data[0] if data else ""
    if "p_rs_r" in header or "q_rs_w" in header or "p_rs_r" in first.lower():
        return "euroc"
    if "," in first:
        names = [tok.strip().lower() for tok in first.split(",")]
        if {"tx", "ty", "tz"} <= set(names):
            return "vector"
        return "euroc" if len(names) >= 8 else "vector"
    return "tum"


def read_flight(path, fmt: str | None = None, **options) -> Flight:
    """Read one flight file (or rosbag2 directory) into a `Flight` with ENU positions in metres.

    fmt: one of FORMATS, detected when None. Options per format: tum `extra_columns=False`;
    bag `topic=None`; ulog `topic=None`. Raises FlightFormatError naming the file and the line or
    message that is wrong; partially bad files keep their good samples (see `Flight.report`).
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "tum":
        from .text import read_tum
        return read_tum(path, **options)
    if fmt == "euroc":
        from .text import read_euroc_csv
        return read_euroc_csv(path, **options)
    if fmt == "vector":
        from .text import read_vector_csv
        return read_vector_csv(path, **options)
    if fmt == "ulog":
        from .ulog import read_ulog
        return read_ulog(path, **options)
    if fmt == "bag":
        from .bag import read_bag
        return read_bag(path, **options)
    raise ValueError(f"unknown flight format {fmt!r}; expected one of {', '.join(FORMATS)}")


def flight_paths(paths: Iterable | str | Path) -> list[Path]:
    """Files (and rosbag2 directories) named by `paths`, folders searched recursively, sorted."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not is_bag_directory(path):
            found.extend(_search(path))
        else:
            found.append(path)
    return found


def _search(folder: Path) -> list[Path]:
    found = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            found.extend([child] if is_bag_directory(child) else _search(child))
        elif child.suffix.lower() in FLIGHT_SUFFIXES and not child.name.startswith("."):
            found.append(child)
    return found


def read_flights(paths, fmt: str | None = None, **options) -> list[Flight]:
    """Read every flight named by `paths` (files, bag directories, folders searched recursively)."""
    return [read_flight(path, fmt=fmt, **options) for path in flight_paths(paths)]

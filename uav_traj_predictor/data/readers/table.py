"""Numeric text tables (whitespace or comma separated) with a fast vectorised path and a line-by-line
fallback that keeps the good rows and names the bad ones."""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..flight import FlightFormatError, ReadReport

SNIFF_BYTES = 4096


@dataclass
class Table:
    """Rows of floats from one file, the header names if it had a header line, and the read report."""
    values: np.ndarray            # (N, C) float64
    header: list[str] | None
    report: ReadReport


def read_text(path: Path) -> str:
    """The file's text; FlightFormatError for a missing, empty or binary file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FlightFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FlightFormatError(f"{path}: is a directory, expected a text file") from None
    except OSError as err:
        raise FlightFormatError(f"{path}: cannot read ({err.strerror})") from None
    if not raw.strip():
        raise FlightFormatError(f"{path}: empty file")
    if b"\x00" in raw[:SNIFF_BYTES]:
        raise FlightFormatError(f"{path}: binary data where a text table was expected")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise FlightFormatError(f"{path}: line {line}: not UTF-8 text (binary garbage?)") from None


def _split(line: str, delimiter: str | None) -> list[str]:
    return [tok.strip() for tok in line.split(delimiter)] if delimiter else line.split()


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _data_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every non-blank line that is not a `#` comment."""
    return [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def read_table(path: Path, min_columns: int, delimiter: str | None = None) -> Table:
    """Read a numeric table with at least `min_columns` columns.

    `#` lines are comments; a first data line without any number is taken as the header (names
    returned). Lines that fail to parse or have another column count than the bulk of the file are
    dropped and counted in the report ("malformed line", "wrong column count"). Raises
    FlightFormatError (naming file and line) when no usable row remains.
    """
    text = read_text(path)
    lines = _data_lines(text)
    header = None
    if lines and not any(_is_number(tok) for tok in _split(lines[0][1], delimiter)):
        header = [tok.lstrip("#").strip() for tok in _split(lines[0][1], delimiter)]
        lines = lines[1:]
    if not lines:
        raise FlightFormatError(f"{path}: no numeric rows (only comments/header)")
    values = _fast_parse(lines, delimiter)
    report = ReadReport()
    if values is None:
        values = _slow_parse(path, lines, delimiter, report)
    if values.shape[1] < min_columns:
        first = lines[0][0]
        raise FlightFormatError(
            f"{path}: line {first}: expected at least {min_columns} columns, got {values.shape[1]}")
    return Table(values=values, header=header, report=report)


def _fast_parse(lines: list[tuple[int, str]], delimiter: str | None) -> np.ndarray | None:
    """All lines parsed at once by numpy's C parser, or None when any line is irregular."""
    try:
        return np.loadtxt(io.StringIO("\n".join(line for _, line in lines)), dtype=np.float64,
                          delimiter=delimiter, ndmin=2, comments=None)
    except ValueError:
        return None


def _slow_parse(path: Path, lines: list[tuple[int, str]], delimiter: str | None,
                report: ReadReport) -> np.ndarray:
    """Line by line: keep rows that parse and have the file's usual column count; count the rest."""
    parsed: list[tuple[int, list[float]]] = []
    for number, line in lines:
        try:
            parsed.append((number, [float(tok) for tok in _split(line, delimiter)]))
        except ValueError:
            report.drop("malformed line", 1, f"{path}: line {number}: cannot parse {line.strip()[:60]!r}")
    if not parsed:
        raise FlightFormatError(f"{path}: no numeric rows ({report.notes[0] if report.notes else ''})")
    width = Counter(len(row) for _, row in parsed).most_common(1)[0][0]
    rows = []
    for number, row in parsed:
        if len(row) == width:
            rows.append(row)
        else:
            report.drop("wrong column count", 1,
                        f"{path}: line {number}: {len(row)} columns where the file has {width}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, width)

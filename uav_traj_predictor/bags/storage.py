"""Reading rosbag2 bags (mcap or sqlite3) as raw messages, with damage reported, never a crash.

`open_bag(path)` accepts a bag directory, or a bare .mcap/.db3 file. A directory whose metadata.yaml
is missing is read from its storage files directly (noted in `Bag.notes`). A damaged bag (truncated
mcap, garbage or truncated db3, undecodable metadata) raises `BagError`, whose message says what is
wrong and how many messages were still readable; with `salvage=True` those readable messages are
returned instead (complete mcap chunks before the damage, db3 rows before it).
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag2 import ReaderError
from rosbags.serde import SerdeError

from .types import UnknownMessageType, require_type, typestore

STORAGE_SUFFIXES = (".mcap", ".db3")
READ_ERRORS = (AnyReaderError, ReaderError, SerdeError, sqlite3.Error, OSError, ValueError, KeyError,
               AssertionError, EOFError)


class BagError(ValueError):
    """A bag cannot be read (fully). `readable` counts the messages that could still be read."""

    def __init__(self, message: str, readable: int = 0):
        super().__init__(message)
        self.readable = readable


@dataclass
class RawMessage:
    """One serialised (CDR) message as stored: topic, type, bag time (ns) and bytes."""
    topic: str
    msgtype: str
    timestamp: int
    data: bytes


@dataclass
class BagTopic:
    """A topic of a bag: type, message count, offered QoS profiles (rosbags Qos), definition text."""
    name: str
    msgtype: str
    count: int
    qos: list = field(default_factory=list)


@dataclass
class Bag:
    """An opened bag (see `open_bag`). Iterate `messages(topics)` in bag-time order."""
    path: Path
    topics: dict[str, BagTopic]
    start_ns: int
    end_ns: int
    notes: list[str] = field(default_factory=list)
    _salvaged: list[RawMessage] | None = None
    _sources: list[Path] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(topic.count for topic in self.topics.values())

    def topics_of_type(self, msgtype: str) -> list[str]:
        return sorted(name for name, topic in self.topics.items() if topic.msgtype == msgtype)

    def messages(self, topics=None) -> Iterator[RawMessage]:
        """Raw messages of `topics` (all when None) in bag-time order; BagError (with the count read so
        far) if the storage turns out damaged part way."""
        wanted = None if topics is None else set(topics)
        if self._salvaged is not None:
            yield from (m for m in self._salvaged if wanted is None or m.topic in wanted)
            return
        count = 0
        for source in self._sources:
            try:
                with AnyReader([source], default_typestore=typestore()) as reader:
                    connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
                    for connection, timestamp, data in reader.messages(connections=connections):
                        count += 1
                        yield RawMessage(connection.topic, connection.msgtype, timestamp, bytes(data))
            except READ_ERRORS as err:
                raise BagError(f"{self.path}: damaged after {count} messages ({_describe(err)}); "
                               f"{count} of {self.message_count} messages were readable", count) from None

    def deserialize(self, message: RawMessage):
        """The message as a rosbags object; BagError naming topic and stamp if the bytes do not decode."""
        try:
            return require_type(message.msgtype).deserialize_cdr(message.data, message.msgtype)
        except UnknownMessageType as err:
            raise BagError(f"{self.path}: topic {message.topic}: {err}") from None
        except (SerdeError, AssertionError, IndexError, ValueError, UnicodeDecodeError) as err:
            raise BagError(f"{self.path}: topic {message.topic}: message at bag time {message.timestamp} ns "
                           f"is not a valid {message.msgtype} ({_describe(err)})") from None


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}" if text != type(err).__name__ else text


def storage_files(path: Path) -> list[Path]:
    """The storage files of a bag path: itself for a .mcap/.db3 file, those inside a directory."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES and p.is_file())


def open_bag(path, salvage: bool = False) -> Bag:
    """Open a bag directory or storage file for reading (see the module doc for damaged bags)."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag (expected a rosbag2 directory or a .mcap/.db3 file)")
    notes = []
    if path.is_dir() and (path / "metadata.yaml").is_file():
        sources = [path]
    else:
        if path.is_file() and path.suffix not in STORAGE_SUFFIXES:
            raise BagError(f"{path}: not a bag (expected a rosbag2 directory or a .mcap/.db3 file)")
        sources = storage_files(path)
        if not sources:
            raise BagError(f"{path}: no metadata.yaml and no .mcap/.db3 storage file in it; not a rosbag2 bag")
        if path.is_dir():
            notes.append(f"metadata.yaml is missing: read {', '.join(p.name for p in sources)} directly")
    try:
        return _open_sources(path, sources, notes)
    except READ_ERRORS as err:
        return _damaged(path, sources, err, notes, salvage)


def _open_sources(path: Path, sources: list[Path], notes: list[str]) -> Bag:
    topics: dict[str, BagTopic] = {}
    start, end = None, None
    for source in sources:
        with AnyReader([source], default_typestore=typestore()) as reader:
            for connection in reader.connections:
                qos = list(getattr(connection.ext, "offered_qos_profiles", None) or [])
                topic = topics.setdefault(connection.topic, BagTopic(connection.topic, connection.msgtype, 0, qos))
                if topic.msgtype != connection.msgtype:
                    notes.append(f"topic {connection.topic} has two types ({topic.msgtype}, {connection.msgtype})")
                topic.count += connection.msgcount
            if reader.message_count:
                start = reader.start_time if start is None else min(start, reader.start_time)
                end = reader.end_time if end is None else max(end, reader.end_time)
    return Bag(path, topics, start or 0, end or 0, notes, _sources=sources)


def _damaged(path: Path, sources: list[Path], err: BaseException, notes: list[str], salvage: bool) -> Bag:
    """A bag rosbags refused to open: count (and with `salvage`, keep) what is still readable."""
    messages, problems = [], []
    for source in sources if all(s.is_file() for s in sources) else storage_files(path):
        messages += _salvage_file(source, problems)
    counts = Counter(m.topic for m in messages)
    summary = ", ".join(f"{topic}: {n}" for topic, n in sorted(counts.items())) or "none"
    message = (f"{path}: damaged bag ({_describe(err)}); {len(messages)} messages readable ({summary})"
               + "".join(f"; {problem}" for problem in problems))
    if not salvage:
        raise BagError(message + "; use --salvage to use them", len(messages))
    messages.sort(key=lambda m: m.timestamp)
    topics = {}
    for m in messages:
        topics.setdefault(m.topic, BagTopic(m.topic, m.msgtype, 0)).count += 1
    start = messages[0].timestamp if messages else 0
    end = messages[-1].timestamp + 1 if messages else 0
    return Bag(path, topics, start, end, notes + [message], _salvaged=messages)


def _salvage_file(source: Path, problems: list[str]) -> list[RawMessage]:
    if source.suffix == ".mcap":
        try:
            return _salvage_mcap(source)
        except ImportError:
            problems.append(f"cannot scan {source.name} for readable messages: the `mcap` package is not installed")
            return []
    if source.suffix == ".db3":
        return _salvage_db3(source)
    return []


def _salvage_mcap(source: Path) -> list[RawMessage]:
    """Messages of the complete records of an mcap file, read front to back until the damage."""
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader
    schemas, channels, messages = {}, {}, []
    try:
        with source.open("rb") as handle:
            for record in StreamReader(handle, skip_magic=False, emit_chunks=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record.name
                elif isinstance(record, Channel):
                    channels[record.id] = (record.topic, schemas.get(record.schema_id, ""))
                elif isinstance(record, Message) and record.channel_id in channels:
                    topic, msgtype = channels[record.channel_id]
                    messages.append(RawMessage(topic, msgtype, record.log_time, bytes(record.data)))
    except Exception:  # noqa: BLE001 - any damage ends the scan; what was read so far is kept
        pass
    return messages


def _salvage_db3(source: Path) -> list[RawMessage]:
    """Rows of a rosbag2 sqlite3 file read in insertion order until the damage."""
    messages = []
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as db:
            topics = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, name, type FROM topics")}
            for topic_id, stamp, data in db.execute("SELECT topic_id, timestamp, data FROM messages ORDER BY id"):
                if topic_id in topics:
                    messages.append(RawMessage(topics[topic_id][0], topics[topic_id][1], int(stamp), bytes(data)))
    except sqlite3.Error:
        pass
    return messages

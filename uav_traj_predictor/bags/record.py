"""`uav-traj bag record`: record live topics raw into a rosbag2 bag (bags/writer.py: mcap, metadata v9 by
default; `--bag-version 8 --storage sqlite3` for Humble).

Topics are subscribed with raw=True as soon as they appear on the graph (their type and the QoS their
publishers offer are read from it), so bytes go to the bag without Python (de)serialisation. The
message definitions come from the rosbags typestore (ROS 2 Jazzy types plus our PredictedTrajectory,
registered from msg/PredictedTrajectory.msg), so the bag is self-describing. SIGINT, SIGTERM or the
duration stop it cleanly: the writer is always closed, so metadata and indexes are flushed.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from .types import UnknownMessageType, combined_qos, require_type
from .writer import BagFormat, BagWriter

DISCOVERY_PERIOD = 0.2     # seconds between graph look-ups for topics not yet subscribed
SUBSCRIPTION_DEPTH = 1000  # bursts must not overflow the recorder's reader history


@dataclass
class RecordStats:
    recorded: Counter = field(default_factory=Counter)   # topic -> messages written
    types: dict = field(default_factory=dict)             # topic -> type, for subscribed topics
    skipped: dict = field(default_factory=dict)           # topic -> why it could not be recorded
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.recorded.values())


class Recorder:
    """Subscribes to `topics` when they appear and writes their raw messages to `writer`."""

    def __init__(self, node, writer: BagWriter, topics, stats: RecordStats, announce=None):
        self.node, self.writer, self.stats = node, writer, stats
        self.pending = [node.resolve_topic_name(topic) for topic in topics]
        self.subscriptions = []
        self.announce = announce or (lambda text: None)

    def discover(self) -> None:
        """Subscribe to every pending topic that now has a publisher on the graph."""
        if not self.pending:
            return
        graph = dict(self.node.get_topic_names_and_types())
        for topic in [t for t in self.pending if graph.get(t)]:
            self.pending.remove(topic)
            self._subscribe(topic, graph[topic][0])

    def _subscribe(self, topic: str, msgtype: str) -> None:
        from .ros import UnsupportedTopicType, message_class, qos_from_rclpy, qos_to_rclpy
        try:
            store = require_type(msgtype)
            cls = message_class(msgtype)
        except (UnknownMessageType, UnsupportedTopicType) as err:
            self.stats.skipped[topic] = str(err)
            self.announce(f"skipping {topic}: {err}")
            return
        offered = [qos_from_rclpy(info.qos_profile) for info in self.node.get_publishers_info_by_topic(topic)]
        connection = self.writer.topic(topic, msgtype, qos=offered, store=store)
        qos = qos_to_rclpy(combined_qos(offered), depth=SUBSCRIPTION_DEPTH)
        clock = self.node.get_clock()

        def write(data: bytes) -> None:
            self.writer.write(connection, clock.now().nanoseconds, data)
            self.stats.recorded[topic] += 1
        self.subscriptions.append(self.node.create_subscription(cls, topic, write, qos, raw=True))
        self.stats.types[topic] = msgtype
        self.announce(f"recording {topic} [{msgtype}]")


def record_topics(topics, out, duration: float | None = None, fmt: BagFormat | None = None,
                  stop: threading.Event | None = None, announce=None) -> RecordStats:
    """Record `topics` into a new bag directory `out` (`fmt`: metadata version and storage) until `stop`
    is set, a signal, or `duration` s."""
    from rclpy.executors import SingleThreadedExecutor

    from .ros import ros_session
    if not topics:
        raise ValueError("give at least one topic to record")
    if duration is not None and not duration > 0:
        raise ValueError(f"--duration must be > 0, got {duration}")
    writer = BagWriter(out, fmt)            # refuses an existing directory before anything starts
    stop = stop or threading.Event()
    announce = announce or (lambda text: print(text, flush=True))
    stats = RecordStats()
    with ros_session("uav_traj_bag_recorder", stop) as node:
        writer.open()
        try:
            recorder = Recorder(node, writer, topics, stats, announce)
            executor = SingleThreadedExecutor(context=node.context)
            executor.add_node(node)
            started = next_discovery = time.monotonic()
            while not stop.is_set() and (duration is None or time.monotonic() - started < duration):
                if time.monotonic() >= next_discovery:
                    recorder.discover()
                    next_discovery = time.monotonic() + DISCOVERY_PERIOD
                executor.spin_once(timeout_sec=0.05)
            stats.seconds = time.monotonic() - started
            executor.remove_node(node)
        finally:
            writer.close()
    for topic in recorder.pending:
        stats.skipped[topic] = "never published while recording"
    return stats


def print_summary(stats: RecordStats, out, stream=sys.stdout) -> None:
    """One line per topic: messages recorded or why the topic was skipped."""
    print(f"recorded {stats.total} messages in {stats.seconds:.1f} s into {out}", file=stream)
    for topic, msgtype in stats.types.items():
        print(f"  {topic} [{msgtype}]: {stats.recorded[topic]}", file=stream)
    for topic, reason in stats.skipped.items():
        print(f"  {topic}: not recorded ({reason})", file=stream)

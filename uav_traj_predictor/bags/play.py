"""`uav-traj bag play`: replay a bag onto live topics with its original timing, raw CDR bytes.

Every message is published as the bytes stored in the bag through an rclpy publisher of the topic's
type (no Python (de)serialisation), at bag time / rate from the start. QoS comes from the bag
metadata (the offered profiles, combined as `ros2 bag play` does), else reliable/volatile.
With `clock_hz`, /clock (rosgraph_msgs/Clock) carries the bag time for use_sim_time consumers.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .storage import open_bag
from .types import combined_qos

SPIN_BEFORE = 0.0003     # the last fraction of a wait is spun for sub-millisecond release times
ACK_TIMEOUT = 5.0        # at the end, wait this long for reliable subscribers to acknowledge everything
PLAYER_DEPTH = 1000      # publisher history: bursts at high rates must not overwrite unsent samples


@dataclass
class PlayOptions:
    rate: float = 1.0
    loop: bool = False
    start_offset: float = 0.0                 # seconds of bag time skipped at the start
    remap: dict = field(default_factory=dict)  # bag topic -> published topic
    topics: list | None = None                # bag topics to play (None: all)
    clock_hz: float = 0.0                     # /clock publication rate (0: no /clock)
    wait_for_subscribers: int = 0             # wait until every topic has this many subscribers
    wait_timeout: float = 10.0
    delay: float = 0.0                        # seconds to wait before the first message

    def __post_init__(self):
        if not self.rate > 0:
            raise ValueError(f"--rate must be > 0, got {self.rate}")
        if self.start_offset < 0:
            raise ValueError(f"--start-offset must be >= 0, got {self.start_offset}")
        if self.clock_hz < 0:
            raise ValueError(f"--clock rate must be >= 0, got {self.clock_hz}")


@dataclass
class PlayStats:
    published: Counter = field(default_factory=Counter)   # published topic -> messages
    lateness: list = field(default_factory=list)           # publish time - due time per message, s
    loops: int = 0
    wall_seconds: float = 0.0
    stopped: bool = False                                   # interrupted by a signal / stop event
    unacknowledged: list = field(default_factory=list)      # reliable topics not fully acknowledged at exit

    @property
    def total(self) -> int:
        return sum(self.published.values())

    def lateness_percentiles(self) -> dict:
        """p50/p90/p99/max of the publish lateness in milliseconds (empty when nothing was played)."""
        if not self.lateness:
            return {}
        late = np.asarray(self.lateness) * 1e3
        return {"p50": float(np.percentile(late, 50)), "p90": float(np.percentile(late, 90)),
                "p99": float(np.percentile(late, 99)), "max": float(late.max())}


def parse_remaps(pairs) -> dict:
    """{'a': 'b'} from ['a:=b', ...]; ValueError naming a malformed entry."""
    remap = {}
    for pair in pairs or []:
        source, sep, target = pair.partition(":=")
        if not sep or not source or not target:
            raise ValueError(f"--remap expects FROM:=TO, got {pair!r}")
        remap[source] = target
    return remap


def play_bag(path, options: PlayOptions = PlayOptions(), stop: threading.Event | None = None,
             salvage: bool = False) -> PlayStats:
    """Play the bag at `path` onto live topics (see module doc); returns what was published."""
    from .ros import ros_session
    bag = open_bag(path, salvage=salvage)
    stop = stop or threading.Event()
    topics = _selected_topics(bag, options.topics)
    stats = PlayStats()
    with ros_session("uav_traj_bag_player", stop) as node:
        publishers = _publishers(node, bag, topics, options.remap)
        clock = _clock_publisher(node) if options.clock_hz > 0 else None
        _wait_for_subscribers(node, publishers, options, stop)
        if options.delay > 0:
            stop.wait(options.delay)
        started = time.perf_counter()
        while not stop.is_set():
            _play_once(bag, list(publishers), publishers, clock, options, stats, stop)
            stats.loops += 1
            if not options.loop or stats.total == 0:
                break
        stats.wall_seconds = time.perf_counter() - started
        stats.stopped = stop.is_set()
        stats.unacknowledged = _wait_for_acks(publishers.values())
    return stats


def _selected_topics(bag, wanted) -> list[str]:
    if wanted is None:
        return sorted(bag.topics)
    missing = [topic for topic in wanted if topic not in bag.topics]
    if missing:
        raise ValueError(f"{bag.path}: no topic {', '.join(missing)}; topics: {', '.join(sorted(bag.topics))}")
    return list(wanted)


def _publishers(node, bag, topics, remap) -> dict:
    """A publisher per playable topic; topics whose type rclpy lacks here are skipped with a warning."""
    from .ros import UnsupportedTopicType, message_class, qos_to_rclpy
    publishers = {}
    for topic in topics:
        info = bag.topics[topic]
        try:
            cls = message_class(info.msgtype)
        except UnsupportedTopicType as err:
            print(f"warning: not playing {topic}: {err}", file=sys.stderr)
            continue
        qos = qos_to_rclpy(combined_qos(info.qos), depth=PLAYER_DEPTH)
        publishers[topic] = node.create_publisher(cls, remap.get(topic, topic), qos)
    if not publishers:
        raise UnsupportedTopicType(f"{bag.path}: no topic of a type available to rclpy here")
    return publishers


def _clock_publisher(node):
    from rclpy.qos import QoSProfile
    from rosgraph_msgs.msg import Clock
    return node.create_publisher(Clock, "/clock", QoSProfile(depth=1))


def _wait_for_subscribers(node, publishers, options: PlayOptions, stop) -> None:
    if options.wait_for_subscribers <= 0:
        return
    deadline = time.monotonic() + options.wait_timeout
    while not stop.is_set():
        waiting = {pub.topic_name: pub.get_subscription_count() for pub in publishers.values()
                   if pub.get_subscription_count() < options.wait_for_subscribers}
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {options.wait_timeout:g} s for {options.wait_for_subscribers} subscriber(s); "
                               f"still missing on {', '.join(f'{t} ({n})' for t, n in waiting.items())}")
        time.sleep(0.02)


def _play_once(bag, topics, publishers, clock, options: PlayOptions, stats: PlayStats, stop) -> None:
    first_ns = bag.start_ns + int(round(options.start_offset * 1e9))
    wall_start = time.perf_counter()
    clock_period = 1.0 / options.clock_hz if clock is not None else None
    next_clock = wall_start

    def bag_time_at(wall: float) -> int:
        return first_ns + int((wall - wall_start) * options.rate * 1e9)

    for message in bag.messages(topics):
        if message.timestamp < first_ns:
            continue
        due = wall_start + (message.timestamp - first_ns) / 1e9 / options.rate
        while clock is not None and next_clock < due and not stop.is_set():
            _sleep_until(next_clock, stop)
            _publish_clock(clock, bag_time_at(next_clock))
            next_clock += clock_period
        if stop.is_set() or not _sleep_until(due, stop):
            return
        publishers[message.topic].publish(message.data)
        stats.lateness.append(time.perf_counter() - due)
        stats.published[publishers[message.topic].topic_name] += 1


def _wait_for_acks(publishers) -> list[str]:
    """Let reliable subscribers receive the tail of a burst before the process exits (the DDS writer
    dies with it); the topics still unacknowledged after ACK_TIMEOUT."""
    from rclpy.duration import Duration
    return [pub.topic_name for pub in publishers if not pub.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT))]


def _sleep_until(due: float, stop: threading.Event) -> bool:
    """Wait until perf_counter() >= due (False if stopped first): sleep, then spin the last bit."""
    while True:
        remaining = due - time.perf_counter()
        if remaining <= 0:
            return True
        if stop.is_set():
            return False
        if remaining > SPIN_BEFORE:
            time.sleep(min(remaining - SPIN_BEFORE, 0.1))


def _publish_clock(publisher, bag_time_ns: int) -> None:
    from rosgraph_msgs.msg import Clock
    message = Clock()
    message.clock.sec, message.clock.nanosec = divmod(int(bag_time_ns), 1_000_000_000)
    publisher.publish(message)

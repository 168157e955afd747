"""predictor_node: odometry, poses or sensed targets of any number of vehicles in, predicted trajectories out.

A thin rclpy adapter over `core.TrackBank` (all prediction logic lives in the core, so the node, the
bag replay and the offline evaluation give identical numbers for the same samples).

Inputs: nav_msgs/Odometry (`input_type: odometry`), geometry_msgs/PoseStamped (`pose`),
PoseWithCovarianceStamped (`pose_covariance`) or PointStamped (`point`) on the topics in `odom_topics`
and/or every topic matching `odom_topic_regex` (the graph is re-scanned every `discovery_period` s), one
track per topic; and uav_traj_predictor/TargetArray on the `target_topics`, one track per target id
(many targets per message, e.g. a tracker's output). Sensor-data QoS (best effort) with a deep history
(`input_depth`). header.stamp, the position (in header.frame_id), a supplied position covariance (its
noise level replaces the online estimate, `use_covariance`) and, with `velocity_source: twist`, the
Odometry twist (in child_frame_id, rotated into header.frame_id by the pose's orientation) are read
straight from the raw CDR bytes. With the default `velocity_source: pose` the core derives the grid
velocities from the grid positions, as the shipped model was trained.
Outputs per topic track, in the namespace of the input topic (/uav1/odom -> /uav1/...): `predicted_path`
(nav_msgs/Path, H poses stamped t0 + k dt) and `predicted_trajectory` (PredictedTrajectory with std,
status and model id); with `publish_batch`, every track's prediction of a tick (targets included) in one
PredictedTrajectoryArray on `batch_topic`; on `predicted_markers` one MarkerArray for all tracks (line +
2-sigma ellipsoids, DELETE for dropped tracks), on /diagnostics per-track (per target topic) state,
input rates, latency, drops. With `shard_count` > 1 the node serves only the track ids whose stable hash
(`core.shard_of`) is its `shard_index`: instances with the same count split the ids between them.

Messages are batched: each subscription callback only queues its sample (O(1)) and triggers a guard
condition; the executor serves every subscription that was ready in the same wait before the guard, so
one core tick steps and predicts all tracks due together in one batched call. A housekeeping timer
ticks too, so stale tracks are dropped without new input.
"""
from __future__ import annotations

import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PointStamped, PoseStamped, PoseWithCovarianceStamped
from nav_msgs.msg import Odometry, Path
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from visualization_msgs.msg import MarkerArray

from ..core import TrackBank, freeze_startup_heap, shard_of
from ..data.noise import NOISY_POSITIONS_M, covariance_level, covariance_levels
from ..core.prediction import EVENT_DROPPED, EVENT_IGNORED, EVENT_RESET, TRACKING
from ..data.preprocess import PreprocessConfig
from ..msg import PredictedTrajectory, PredictedTrajectoryArray, TargetArray
from . import cdr, messages
from .messages import STATUS_CODES
from ..config import ConfigError, setting
from .compat import PublisherEventCallbacks, SubscriptionEventCallbacks
from .params import NODE_OPTIONS, NodeParameters, declare
from .lifecycle import spin_node

INPUT_TYPES = {"odometry": (Odometry, "nav_msgs/msg/Odometry"), "pose": (PoseStamped, "geometry_msgs/msg/PoseStamped"),
               "pose_covariance": (PoseWithCovarianceStamped, "geometry_msgs/msg/PoseWithCovarianceStamped"),
               "point": (PointStamped, "geometry_msgs/msg/PointStamped")}
IGNORED_ZERO_STAMP = "zero_stamp"
IGNORED_FRAME = "frame_mismatch"
IGNORED_MALFORMED = "malformed"
IGNORED_ORIENTATION = "invalid_orientation"
IGNORED_ID_CONFLICT = "id_conflict"          # a track id another input already feeds
IGNORED_STAMP_RANGE = "stamp_out_of_range"
COVARIANCE_INVALID = "covariance_invalid"     # a negative or non-finite variance: the estimate is used instead
COVARIANCE_SIZE = "covariance_size"           # a TargetArray whose covariances are not 9 per id (positions used)
VELOCITY_SOURCES = ("pose", "twist")
RESET_FRAME_CHANGED = "frame_changed"
REFUSED_TOPICS_REMEMBERED = 10000
SHARD_IDS_REMEMBERED = 100000                 # track ids whose shard is cached (the cache is cleared beyond)


def _regex_problem(text: str) -> str | None:
    try:
        re.compile(text)
    except re.error as error:
        return f"not a valid regex: {error}"
    return None

@dataclass(frozen=True)
class PredictorParameters(NodeParameters):
    """predictor_node's parameters (docs/nodes.md); read-only unless marked settable."""
    checkpoint: str = setting("", "Model checkpoint file; empty = the checkpoint shipped with the package that covers "
                              "horizon_steps (the 1 s default, or models/horizon3s.pt for 11..30 steps).")
    backend: str = setting("auto", "GRU kernel backend (auto: Triton on CUDA, else the fastest CPU path, including the "
                           "C path for every tick; numpy / torch: only those calls).",
                           choices=("auto", "torch", "numpy", "triton"))
    device: str = setting("cpu", "Device for the GRU state and kernels (cpu, cuda, cuda:N).")
    online_calibration: float = setting(0.0, "Rate of the per-track online std calibration from the track's own "
                                        "matured predictions (0 = off: the checkpoint's offline calibration only; "
                                        "0.02 = the validated rate).", low=0.0, high=0.5)
    guard: float = setting(0.02, "Rate of the guard, which blends each track's prediction toward a CV/CA "
                           "IMM's by how both did on that track (docs/model.md); 0 = off (the network alone).",
                           low=0.0, high=0.5)
    lead_calibration: float = setting(-1.0, "Rate of the guard's per-lead, per-axis std calibration from each track's "
                                      "matured errors (docs/model.md); -1 = the default (0.05), 0 = off.",
                                      low=-1.0, high=0.5)
    grid_rate: float = setting(0.0, "Grid rate in Hz; 0 = the checkpoint's. Any other value must equal it.",
                               low=0.0, high=1000.0)
    max_gap: float = setting(0.2, "Input gap (s) that resets a track.", low=0.001, high=60.0)
    smoothing: str = setting("none", "Causal smoothing of grid positions (must match training).",
                             choices=("none", "savgol"))
    horizon_steps: int = setting(0, "Published horizon steps; 0 = the checkpoint's, at most the checkpoint's. With "
                                 "the default empty checkpoint, a value above the default checkpoint's 10 steps loads "
                                 "the shipped 3 s checkpoint at start-up (up to 30 steps).",
                                 low=0, high=1000, read_only=False)
    track_timeout: float = setting(2.0, "Drop a track after this many seconds (node clock) without input.",
                                   low=0.01, high=3600.0, read_only=False)
    max_speed: float = setting(60.0, "Implied speed (m/s) between two samples above which a track resets (teleport).",
                               low=0.1, high=10000.0, read_only=False)
    input_type: str = setting("odometry", "Message type of the odom_topics / odom_topic_regex inputs (one track "
                              "per topic): odometry, pose (PoseStamped), pose_covariance "
                              "(PoseWithCovarianceStamped), point (PointStamped).", choices=tuple(INPUT_TYPES))
    target_topics: tuple[str, ...] = setting((), "uav_traj_predictor/TargetArray topics: many targets per message, "
                                             "one track per target id; their predictions are published in the "
                                             "batched output only (publish_batch must be true).")
    use_orientation: bool = setting(True, "Read the pose's orientation (odometry, pose, pose_covariance inputs) for a "
                                    "checkpoint with the attitude input (docs/nodes.md, \"The vehicle's attitude\"); "
                                    "false: positions only.")
    use_covariance: bool = setting(True, "Use a supplied position covariance (pose_covariance inputs, TargetArray "
                                   "covariances) as the track's measurement-noise level, sqrt of the mean position "
                                   "variance, instead of the online estimate (docs/nodes.md).")
    publish_batch: bool = setting(False, "Publish every track's prediction of a tick in one "
                                  "PredictedTrajectoryArray on batch_topic (beside the per-topic outputs).")
    batch_topic: str = setting("predicted_trajectories", "Topic of the batched output (publish_batch).")
    batch_max_kib: int = setting(448, "Largest batched message (KiB): a tick's batch of more tracks goes out as "
                                 "several messages of whole tracks below it (Fast DDS moves a sample above its "
                                 "512 KiB shared-memory segment over UDP fragments: ~12 instead of ~2 ms on "
                                 "loopback); 0 = one message whatever its size.", low=0, high=1_000_000)
    shard_count: int = setting(1, "Instances sharing the inputs: this node serves only the track ids whose "
                               "stable hash (CRC-32 of the id) modulo shard_count is shard_index.", low=1, high=1024)
    shard_index: int = setting(0, "This instance's shard, 0..shard_count-1.", low=0, high=1023)
    velocity_source: str = setting("pose", "Grid velocities from the poses' differences (pose) or from the "
                                   "Odometry twist rotated into the world frame (twist: interval means of the "
                                   "measured velocity).",
                                   choices=VELOCITY_SOURCES)
    odom_topics: tuple[str, ...] = setting((), "Input topics, one track each.")
    odom_topic_regex: str = setting("", "Also subscribe to every topic whose full name matches this regex.",
                                    check=_regex_problem)
    discovery_period: float = setting(2.0, "Seconds between graph scans for odom_topic_regex.", low=0.1, high=3600.0)
    output_frame: str = setting("", "Required input frame (REP-105 map/odom); empty = publish in each input's frame. "
                                "Inputs in another frame are ignored with a diagnostic (no tf lookups).")
    publish_path: bool = setting(True, "Publish nav_msgs/Path per track.", read_only=False)
    publish_markers: bool = setting(True, "Publish the MarkerArray.", read_only=False)
    marker_rate: float = setting(5.0, "MarkerArray publishing rate (Hz).", low=0.1, high=100.0)
    diagnostics_period: float = setting(1.0, "Seconds between /diagnostics messages.", low=0.1, high=60.0)
    qos_depth: int = setting(10, "Depth of the output publishers' queues.", low=1, high=1000)
    max_tracks: int = setting(1000, "Most tracks (= input topics) at once: topics found by odom_topic_regex beyond it "
                              "are not subscribed, new track ids beyond it are refused and never allocated; both are "
                              "counted in /diagnostics (refused_topics, refused_samples). Bounds what any participant "
                              "on the DDS domain can make the node allocate (docs/reliability.md).", low=1, high=100000)
    input_depth: int = setting(50, "History depth of the (best-effort, sensor-data) input subscriptions: deep "
                               "enough that a burst after a stall is not dropped (a dropped stretch would look like a "
                               "gap).", low=1, high=10000)

    def check(self) -> None:
        if self.velocity_source == "twist" and (self.input_type != "odometry" or self.target_topics):
            raise ConfigError("velocity_source 'twist' needs input_type 'odometry' and no target_topics (only "
                              "Odometry has a twist)")
        if not self.odom_topics and not self.odom_topic_regex and not self.target_topics:
            raise ConfigError("no input: set 'odom_topics' (list of topics), 'odom_topic_regex' and/or "
                              "'target_topics'")
        if self.target_topics and not self.publish_batch:
            raise self.error("target_topics", "targets are published only in the batched output: set "
                                              "publish_batch: true")
        if self.shard_index >= self.shard_count:
            raise self.error("shard_index", f"{self.shard_index} is not below shard_count {self.shard_count}")
        if len(self.odom_topics) > self.max_tracks:
            raise self.error("odom_topics", f"{len(self.odom_topics)} topics exceed max_tracks {self.max_tracks}")


@dataclass
class Input:
    """One subscribed topic (= one track) and its publishers."""
    topic: str
    track_id: str
    path_pub: object
    trajectory_pub: object
    frame_id: str = ""
    received: int = 0
    received_at_report: int = 0
    covariance_invalid: int = 0
    arrivals: deque = field(default_factory=deque)   # perf_counter of messages waiting for a prediction


@dataclass
class TargetInput:
    """One subscribed TargetArray topic (one track per target id)."""
    topic: str
    frame_id: str = ""
    received: int = 0                # messages
    received_at_report: int = 0
    targets: int = 0                 # targets in the messages (all shards)
    last_count: int = 0              # targets in the newest message
    other_shard: int = 0             # targets of other shards (skipped)
    conflicts: int = 0               # targets whose id another input feeds (ignored)
    covariance_invalid: int = 0
    covariance_size: int = 0
    arrivals: deque = field(default_factory=deque)   # perf_counter of messages that completed grid samples
    callback_seconds: deque = field(default_factory=lambda: deque(maxlen=2000))   # per message: read + pushes


def track_names(topic: str) -> tuple[str, str]:
    """(namespace, track id) of an input topic: /uav1/odom -> ("/uav1", "uav1"); /odom -> ("", "odom")."""
    namespace = topic.rsplit("/", 1)[0]
    return namespace, (namespace.strip("/") or topic.strip("/"))


class PredictorNode(Node):
    """Subscriptions -> TrackBank.push; guard condition / housekeeping timer -> TrackBank.tick -> publishers."""

    def __init__(self, **node_options):
        super().__init__("predictor_node", **{**NODE_OPTIONS, **node_options})
        self.config = declare(self, PredictorParameters)
        self.message_type, self.type_name = INPUT_TYPES[self.config.input_type]
        self.topic_pattern = re.compile(self.config.odom_topic_regex) if self.config.odom_topic_regex else None
        self.use_twist = self.config.velocity_source == "twist"
        self.bank = self._make_bank(self.config)
        # the pose's orientation is read only where the checkpoint has the attitude input (else no cost)
        self.read_orientation = bool(self.config.use_orientation and self.bank.uses_attitude
                                     and self.message_type is not PointStamped)
        self.inputs: dict[str, Input] = {}
        self.by_track: dict[str, Input] = {}
        self.latest = {}                     # track id -> latest Prediction (for the markers)
        self.stats = Counter()               # resets / ignored / dropped totals by reason
        self.jitter_warned = set()           # tracks whose noisy positions were logged once
        self.latencies = deque(maxlen=2000)  # receive -> published, seconds (perf_counter)
        self.tick_seconds = deque(maxlen=2000)
        self.tick_due = False
        self.refused_topics: set[str] = set()  # topics beyond max_tracks (counted once each, bounded memory)
        self.other_shard_topics: set[str] = set()   # topics whose track is another shard's (not subscribed)
        self.target_inputs: dict[str, TargetInput] = {}
        self.target_owner: dict[str, TargetInput] = {}   # target track id -> the TargetArray topic feeding it
        self.shard_cache: dict[str, bool] = {}           # track id -> this shard serves it
        qos = self.config.qos_depth
        self.marker_pub = self.create_publisher(MarkerArray, "predicted_markers", qos)
        self.batch_pub = (self.create_publisher(PredictedTrajectoryArray, self.config.batch_topic, qos)
                          if self.config.publish_batch else None)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", qos)
        self.tick_guard = self.create_guard_condition(self._tick)
        self.create_timer(min(0.25, self.config.track_timeout / 2), self._housekeeping)
        self.create_timer(1.0 / self.config.marker_rate, self._publish_markers)
        self.create_timer(self.config.diagnostics_period, self._publish_diagnostics)
        for topic in self.config.odom_topics:
            self._subscribe(self.resolve_topic_name(topic))
        for topic in self.config.target_topics:
            self._subscribe_targets(self.resolve_topic_name(topic))
        if self.topic_pattern is not None:
            self._discover()
            self.create_timer(self.config.discovery_period, self._discover)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.diagnostics_period_start = time.monotonic()
        self.get_logger().info(
            f"predicting {self.bank.horizon_steps} steps of {self.bank.dt:g} s with model "
            f"{self.bank.predictor.model_id} ({self.config.backend}"
            f"{', C path' if self.bank.predictor.fused else ''}); "
            f"inputs {sorted(self.inputs) or 'by discovery'}"
            + (f", targets on {sorted(self.target_inputs)}" if self.target_inputs else "")
            + (f", batched output on {self.batch_pub.topic_name}" if self.batch_pub else "")
            + (f"; shard {self.config.shard_index} of {self.config.shard_count}" if self.config.shard_count > 1
               else ""))

    # ---- set-up ---------------------------------------------------------------------------------
    def _make_bank(self, config: PredictorParameters) -> TrackBank:
        from ..model import CheckpointError, StreamingPredictor, shipped_checkpoint_for
        try:
            checkpoint = config.checkpoint or shipped_checkpoint_for(config.horizon_steps)
            predictor = StreamingPredictor(checkpoint, backend=config.backend,
                                           device=config.device, online_calibration=config.online_calibration,
                                           guard=config.guard, lead_calibration=None if config.lead_calibration < 0
                                           else config.lead_calibration)
        except (CheckpointError, ValueError, RuntimeError, ImportError) as error:
            raise ConfigError(f"cannot load the predictor (checkpoint {config.checkpoint or 'shipped default'!r}, "
                              f"backend {config.backend!r}, device {config.device!r}): {error}") from None
        rate = config.grid_rate or predictor.rate
        smoothing = None if config.smoothing == "none" else config.smoothing
        try:
            preprocess = PreprocessConfig(rate=rate, max_gap=config.max_gap, smoothing=smoothing,
                                          velocity_source=config.velocity_source)
            return TrackBank(predictor, preprocess,
                             track_timeout=config.track_timeout, max_speed=config.max_speed,
                             horizon_steps=config.horizon_steps or None, max_tracks=config.max_tracks)
        except ValueError as error:
            raise ConfigError(f"parameter 'grid_rate'/'horizon_steps': {error}") from None

    def _mine(self, track_id: str) -> bool:
        """Whether this shard serves `track_id` (always with shard_count 1); cached per id."""
        mine = self.shard_cache.get(track_id)
        if mine is None:
            if len(self.shard_cache) >= SHARD_IDS_REMEMBERED:
                self.shard_cache.clear()
            config = self.config
            mine = self.shard_cache[track_id] = shard_of(track_id, config.shard_count) == config.shard_index
        return mine

    def _subscribe(self, topic: str) -> None:
        if topic in self.inputs or topic in self.other_shard_topics:
            return
        namespace, track_id = track_names(topic)
        if not self._mine(track_id):
            if len(self.other_shard_topics) < REFUSED_TOPICS_REMEMBERED:
                self.other_shard_topics.add(topic)
            self.get_logger().info(f"{topic}: track '{track_id}' belongs to shard "
                                   f"{shard_of(track_id, self.config.shard_count)}; not subscribed")
            return
        if track_id in self.by_track:
            self.get_logger().error(f"{topic}: track id '{track_id}' already used by {self.by_track[track_id].topic}; "
                                    "not subscribed")
            return
        if len(self.inputs) >= self.config.max_tracks:
            if topic not in self.refused_topics:
                if len(self.refused_topics) < REFUSED_TOPICS_REMEMBERED:
                    self.refused_topics.add(topic)
                self.stats["refused_topics"] += 1
                self.get_logger().warning(f"{topic}: not subscribed, {len(self.inputs)} inputs = max_tracks")
            return
        # No QoS-event handlers per topic: each one is a waitable that rclpy's executor adds to every wait
        # set, which dominated the node's CPU with 100 vehicles (3 entities per vehicle).
        depth, quiet_pub = self.config.qos_depth, PublisherEventCallbacks(use_default_callbacks=False)
        entry = Input(topic, track_id,
                      self.create_publisher(Path, f"{namespace}/predicted_path", depth, event_callbacks=quiet_pub),
                      self.create_publisher(PredictedTrajectory, f"{namespace}/predicted_trajectory", depth,
                                            event_callbacks=quiet_pub))
        self.inputs[topic] = self.by_track[track_id] = entry
        qos = QoSProfile(depth=self.config.input_depth, reliability=qos_profile_sensor_data.reliability,
                         durability=qos_profile_sensor_data.durability, history=qos_profile_sensor_data.history)
        self.create_subscription(self.message_type, topic, partial(self._on_message, entry), qos, raw=True,
                                 event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))
        self.get_logger().info(f"track '{track_id}': {topic} -> {namespace}/predicted_path, "
                               f"{namespace}/predicted_trajectory")

    def _subscribe_targets(self, topic: str) -> None:
        if topic in self.target_inputs:
            return
        source = self.target_inputs[topic] = TargetInput(topic)
        qos = QoSProfile(depth=self.config.input_depth, reliability=qos_profile_sensor_data.reliability,
                         durability=qos_profile_sensor_data.durability, history=qos_profile_sensor_data.history)
        self.create_subscription(TargetArray, topic, partial(self._on_targets, source), qos, raw=True,
                                 event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))
        self.get_logger().info(f"targets: {topic} (one track per target id)")

    def _discover(self) -> None:
        for name, types in self.get_topic_names_and_types():
            if self.type_name in types and self.topic_pattern.fullmatch(name) and name not in self.inputs:
                self._subscribe(name)

    # ---- input ----------------------------------------------------------------------------------
    def _on_message(self, entry: Input, data: bytes) -> None:
        """Raw subscription: stamp, frame and position are read straight from the CDR bytes (100x
        cheaper than deserializing the whole Odometry in Python)."""
        arrived = time.perf_counter()
        entry.received += 1
        velocity = noise = orientation = None
        try:
            if self.read_orientation:
                orientation = cdr.read_orientation(data, self.message_type is Odometry)
            if self.use_twist:
                stamp, frame_id, position, velocity = cdr.read_odometry_twist(data)
            elif self.message_type is PoseWithCovarianceStamped:
                stamp, frame_id, position, variances = cdr.read_pose_covariance(data)
                if self.config.use_covariance:
                    noise = covariance_level(*variances)
                    if noise != noise:               # NaN: a negative or non-finite variance
                        entry.covariance_invalid += 1
                        self.stats[COVARIANCE_INVALID] += 1
            else:
                stamp, frame_id, position = cdr.read_stamped_position(data, self.message_type is Odometry)
        except cdr.OrientationError:
            return self._ignore(entry, IGNORED_ORIENTATION)
        except ValueError:
            return self._ignore(entry, IGNORED_MALFORMED)
        if stamp == 0.0:
            return self._ignore(entry, IGNORED_ZERO_STAMP)
        required = self.config.output_frame
        if required and frame_id != required:
            return self._ignore(entry, IGNORED_FRAME)
        if entry.track_id in self.target_owner:         # a target of a TargetArray topic has this id
            self.stats[f"ignored.{IGNORED_ID_CONFLICT}"] += 1
            return
        if entry.frame_id and frame_id != entry.frame_id:
            self.bank.reset(entry.track_id, RESET_FRAME_CHANGED)
        entry.frame_id = frame_id
        now = self.get_clock().now().nanoseconds * 1e-9
        if self.bank.push(entry.track_id, stamp, position, now=now, velocity=velocity, noise=noise,
                          orientation=orientation):
            entry.arrivals.append(arrived)
            if not self.tick_due:               # one tick after this burst of callbacks (see module doc)
                self.tick_due = True
                self.tick_guard.trigger()

    def _on_targets(self, source: TargetInput, data: bytes) -> None:
        """A TargetArray: every target of this shard is pushed as a sample of its own track (id = target id),
        with its covariance's noise level when it has one; one tick follows the burst, as for topics."""
        arrived = time.perf_counter()
        source.received += 1
        stats = self.stats
        try:
            targets = cdr.read_targets(data)
        except ValueError as error:
            stats[f"ignored.{IGNORED_MALFORMED}"] += 1
            if stats[f"ignored.{IGNORED_MALFORMED}"] == 1:
                self.get_logger().warning(f"{source.topic}: undecodable TargetArray ignored ({error}); counted in "
                                          "/diagnostics as ignored.malformed")
            return
        source.targets += len(targets.ids)
        source.last_count = len(targets.ids)
        if targets.stamp == 0.0:
            stats[f"ignored.{IGNORED_ZERO_STAMP}"] += 1
            return
        frame_id = targets.frame_id
        if self.config.output_frame and frame_id != self.config.output_frame:
            stats[f"ignored.{IGNORED_FRAME}"] += 1
            return
        owner = self.target_owner
        if source.frame_id and frame_id != source.frame_id:
            for track_id in [track_id for track_id, feeder in owner.items() if feeder is source]:
                self.bank.reset(track_id, RESET_FRAME_CHANGED)
        source.frame_id = frame_id
        levels = None
        if targets.covariance_problem is not None:
            source.covariance_size += 1
            stats[COVARIANCE_SIZE] += 1
            if source.covariance_size == 1:
                self.get_logger().warning(f"{source.topic}: {targets.covariance_problem}: covariances not used, "
                                          "positions are (counted in /diagnostics as covariance_size)")
        elif targets.variances is not None and self.config.use_covariance:
            levels = covariance_levels(targets.variances)
            invalid = int(np.count_nonzero(np.isnan(levels)))
            if invalid:
                source.covariance_invalid += invalid
                stats[COVARIANCE_INVALID] += invalid
            levels = levels.tolist()
        stamp, now = targets.stamp, self.get_clock().now().nanoseconds * 1e-9
        bank, tracks, by_track, mine = self.bank, self.bank.tracks, self.by_track, self._mine
        sharded = self.config.shard_count > 1
        completed = False
        for i, (track_id, position) in enumerate(zip(targets.ids, targets.positions.tolist())):
            if sharded and not mine(track_id):
                source.other_shard += 1
                continue
            feeder = owner.get(track_id)
            if feeder is not source:
                if feeder is not None or track_id in by_track:       # another input feeds this id
                    source.conflicts += 1
                    stats[f"ignored.{IGNORED_ID_CONFLICT}"] += 1
                    continue
            if bank.push(track_id, stamp, position, now=now, noise=None if levels is None else levels[i]):
                completed = True
            if feeder is None and track_id in tracks:                 # accepted (not beyond max_tracks)
                owner[track_id] = source
        source.callback_seconds.append(time.perf_counter() - arrived)
        if completed:
            source.arrivals.append(arrived)
            if not self.tick_due:
                self.tick_due = True
                self.tick_guard.trigger()

    def _ignore(self, entry: Input, reason: str) -> None:
        self.stats[f"ignored.{reason}"] += 1
        track = self.bank.tracks.get(entry.track_id)
        if track is not None:
            track.ignored[reason] += 1

    # ---- tick and outputs -----------------------------------------------------------------------
    def _housekeeping(self) -> None:
        self._tick()

    def _tick(self) -> None:
        self.tick_due = False
        started = time.perf_counter()
        result = self.bank.tick(now=self.get_clock().now().nanoseconds * 1e-9)
        self.tick_seconds.append(time.perf_counter() - started)
        by_track, latest, batch = self.by_track, self.latest, result.batch
        markers = self.config.publish_markers
        for i, track_id in enumerate(() if batch is None else batch.track_ids):
            entry = by_track.get(track_id)
            if entry is not None:
                self._publish(entry, result.prediction(i))
            elif markers:                        # a target: the batched output (and the markers) only, so
                latest[track_id] = result.prediction(i)   # without markers no per-track object is built
        if self.batch_pub is not None and batch is not None:
            self._publish_batch(batch)
        if self.target_inputs:
            done = time.perf_counter()
            for source in self.target_inputs.values():
                while source.arrivals:
                    self.latencies.append(done - source.arrivals.popleft())
        for event in result.events:
            self._on_event(event)

    def _publish_batch(self, batch) -> None:
        """Every prediction of the tick in one PredictedTrajectoryArray (one per frame when the tracks come in
        several frames, and one per `batch_max_kib` of tracks); tracks whose steps do not all fit
        builtin_interfaces/Time (2038) are left out."""
        rows = None
        fits = batch.t0 + batch.dt * batch.positions.shape[1] < messages.TIME_LIMIT - 1e-6
        if not fits.all():
            rows = np.flatnonzero(fits)
            self.stats[f"ignored.{IGNORED_STAMP_RANGE}"] += len(batch) - len(rows)
            if not len(rows):
                return
        codes = np.fromiter((STATUS_CODES[status] for status in batch.statuses), np.uint8, len(batch))
        frames = {entry.frame_id for entry in self.inputs.values() if entry.frame_id}
        frames |= {source.frame_id for source in self.target_inputs.values() if source.frame_id}
        chunk = self._batch_chunk(batch)
        if len(frames) <= 1 and len(batch) <= chunk:
            self.batch_pub.publish(cdr.trajectory_array_cdr(batch, next(iter(frames), ""), codes, rows))
            return
        indices = np.arange(len(batch)) if rows is None else rows
        by_frame: dict[str, list[int]] = {}
        if len(frames) <= 1:
            by_frame[next(iter(frames), "")] = indices.tolist()
        else:
            for i in indices.tolist():
                by_frame.setdefault(self._frame_of(batch.track_ids[i]), []).append(i)
        for frame_id, members in by_frame.items():
            for start in range(0, len(members), chunk):
                self.batch_pub.publish(cdr.trajectory_array_cdr(batch, frame_id, codes,
                                                                np.array(members[start:start + chunk])))

    def _batch_chunk(self, batch) -> int:
        """Most tracks in one batched message under batch_max_kib (every track when it is 0): per track the
        numbers of its H steps, origin, status and its id (up to 56 bytes counted; longer ids eat the margin
        below the 512 KiB segment)."""
        if not self.config.batch_max_kib:
            return max(len(batch), 1)
        arrays = 2 + (batch.position_std is not None)
        per_track = arrays * batch.positions.shape[1] * 3 * 8 + 8 + 1 + 64
        return max(1, self.config.batch_max_kib * 1024 // per_track)

    def _frame_of(self, track_id: str) -> str:
        feeder = self.by_track.get(track_id) or self.target_owner.get(track_id)
        return feeder.frame_id if feeder is not None else ""

    def _publish(self, entry: Input, prediction) -> None:
        prediction = messages.representable(prediction)     # stamps past 2038 do not fit the messages
        if prediction is None:
            self.stats[f"ignored.{IGNORED_STAMP_RANGE}"] += 1
            return
        if self.config.publish_path:          # serialized here: 3-5x cheaper than rclpy's conversion
            entry.path_pub.publish(cdr.path_cdr(prediction, entry.frame_id))
        entry.trajectory_pub.publish(cdr.trajectory_cdr(prediction, entry.frame_id))
        self.latest[prediction.track_id] = prediction
        done = time.perf_counter()
        while entry.arrivals:
            self.latencies.append(done - entry.arrivals.popleft())

    def _on_event(self, event) -> None:
        if event.kind in (EVENT_RESET, EVENT_IGNORED, EVENT_DROPPED):
            self.stats[f"{event.kind}.{event.reason}"] += 1
        entry = self.by_track.get(event.track_id)
        feeder = entry if entry is not None else self.target_owner.get(event.track_id)
        if feeder is None:
            return
        if event.kind == EVENT_RESET:
            if entry is not None:
                entry.arrivals.clear()
            self.latest.pop(event.track_id, None)
        if event.kind == EVENT_DROPPED:
            self.latest.pop(event.track_id, None)
            if entry is not None:
                entry.arrivals.clear()
                self.get_logger().info(f"track '{event.track_id}' dropped: no input for "
                                       f"{self.bank.track_timeout:g} s")
            else:                               # a target: its id is free for any input again
                del self.target_owner[event.track_id]
            if self.config.publish_markers:
                self.marker_pub.publish(messages.delete_markers_cdr(
                    event.track_id, self.bank.predictor.horizon_steps, feeder.frame_id))

    def _publish_markers(self) -> None:
        if not (self.config.publish_markers and self.latest):
            return
        lifetime = max(1.0, 3.0 / self.config.marker_rate)
        predictions = [(prediction, self._frame_of(track_id)) for track_id, prediction in self.latest.items()]
        self.marker_pub.publish(messages.markers_cdr(predictions, lifetime))

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        period, self.diagnostics_period_start = now - self.diagnostics_period_start, now
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = ([self._node_status()] + [self._track_status(entry, period) for entry in self.inputs.values()]
                        + [self._targets_status(source, period) for source in self.target_inputs.values()])
        self.diagnostics_pub.publish(array)

    def _node_status(self) -> DiagnosticStatus:
        latency = np.percentile(self.latencies, [50, 99]) * 1e3 if self.latencies else (np.nan, np.nan)
        tick = np.percentile(self.tick_seconds, [50, 99]) * 1e3 if self.tick_seconds else (np.nan, np.nan)
        refused_topics, refused_samples = self.stats["refused_topics"], self.bank.refused_samples
        values = {"tracks": len(self.bank), "inputs": len(self.inputs), "model_id": self.bank.predictor.model_id,
                  "backend": self.config.backend, "latency_p50_ms": f"{latency[0]:.3f}",
                  "latency_p99_ms": f"{latency[1]:.3f}", "tick_p50_ms": f"{tick[0]:.3f}",
                  "tick_p99_ms": f"{tick[1]:.3f}", "max_tracks": self.config.max_tracks,
                  "refused_samples": refused_samples, **{k: v for k, v in sorted(self.stats.items())}}
        values["refused_topics"] = refused_topics
        if self.config.shard_count > 1:
            values.update(shard_index=self.config.shard_index, shard_count=self.config.shard_count,
                          other_shard_topics=len(self.other_shard_topics))
        message, level = f"{len(self.bank)} tracks", DiagnosticStatus.OK
        if refused_topics or refused_samples:
            level = DiagnosticStatus.WARN
            message += (f"; max_tracks {self.config.max_tracks} reached: {refused_topics} topics not subscribed, "
                        f"{refused_samples} samples of new tracks refused")
        return DiagnosticStatus(level=level, name="predictor_node", hardware_id=self.get_name(),
                                message=message, values=_key_values(values))

    def _track_status(self, entry: Input, period: float) -> DiagnosticStatus:
        rate = (entry.received - entry.received_at_report) / max(period, 1e-9)
        entry.received_at_report = entry.received
        track = self.bank.tracks.get(entry.track_id)
        name = f"predictor_node: {entry.track_id}"
        if track is None:
            return DiagnosticStatus(level=DiagnosticStatus.STALE, name=name, hardware_id=entry.topic,
                                    message="no track (no input or timed out)",
                                    values=_key_values({"input_rate_hz": f"{rate:.2f}", "received": entry.received}))
        state = track.status or ("reset: " + track.last_reset if track.last_reset else "waiting for grid samples")
        level = DiagnosticStatus.OK if track.status == TRACKING else DiagnosticStatus.WARN
        jitter = track.jitter.sigma
        values = {"state": state, "input_rate_hz": f"{rate:.2f}", "received": entry.received, "samples": track.samples,
                  "history": track.history, "predictions": track.predictions, "frame_id": entry.frame_id,
                  "position_jitter_mm": "" if jitter is None else f"{jitter * 1e3:.2f}",
                  "noise_level_mm": f"{track.noise_level * 1e3:.2f}",
                  "noise_source": "estimate" if track.supplied_noise is None else "covariance",
                  **({COVARIANCE_INVALID: entry.covariance_invalid} if entry.covariance_invalid else {}),
                  **({"attitude": track.attitude_state} if self.read_orientation else {}),
                  "last_reset": track.last_reset or "", **self._guard_values(track),
                  **{f"resets.{k}": v for k, v in track.resets.items()},
                  **{f"ignored.{k}": v for k, v in track.ignored.items()}}
        message = state
        if jitter is not None and jitter > NOISY_POSITIONS_M and not self.use_twist:
            first = entry.track_id not in self.jitter_warned
            self.jitter_warned.add(entry.track_id)
            if self.bank.predictor.uses_noise:       # the model reads the noise level: informative only
                message = (f"{state}; positions noise ~{jitter * 1e3:.0f} mm, read by the model (velocity_source "
                           "twist is better still when the estimator's twist is clean)")
                if first:
                    self.get_logger().info(f"track {entry.track_id}: {message} (docs/model.md)")
            else:                                    # a checkpoint without the noise input degrades
                level = DiagnosticStatus.WARN
                message = (f"{state}; positions jitter ~{jitter * 1e3:.0f} mm: predictions from differenced "
                           "positions degrade with this checkpoint, use velocity_source twist")
                if first:
                    self.get_logger().warning(f"track {entry.track_id}: {message} (docs/model.md)")
        return DiagnosticStatus(level=level, name=name, hardware_id=entry.topic, message=message,
                                values=_key_values(values))

    def _targets_status(self, source: TargetInput, period: float) -> DiagnosticStatus:
        """One status per TargetArray topic (not one per target): messages, targets, tracks by state."""
        rate = (source.received - source.received_at_report) / max(period, 1e-9)
        source.received_at_report = source.received
        states = Counter(self.bank.tracks[track_id].status or "waiting"
                         for track_id, feeder in self.target_owner.items()
                         if feeder is source and track_id in self.bank.tracks)
        callback = (np.percentile(source.callback_seconds, [50, 99]) * 1e3 if source.callback_seconds
                    else (np.nan, np.nan))
        values = {"input_rate_hz": f"{rate:.2f}", "callback_p50_ms": f"{callback[0]:.3f}",
                  "callback_p99_ms": f"{callback[1]:.3f}", "received": source.received, "targets_in_last_message":
                  source.last_count, "targets_received": source.targets, "tracks": sum(states.values()),
                  **{f"tracks.{state}": count for state, count in sorted(states.items())}, "frame_id": source.frame_id,
                  "other_shard": source.other_shard, IGNORED_ID_CONFLICT: source.conflicts,
                  COVARIANCE_INVALID: source.covariance_invalid, COVARIANCE_SIZE: source.covariance_size}
        level = DiagnosticStatus.WARN if (source.conflicts or source.covariance_size) else DiagnosticStatus.OK
        message = f"{sum(states.values())} target tracks ({states.get(TRACKING, 0)} tracking)"
        if level == DiagnosticStatus.WARN:
            message += f"; {source.conflicts} id conflicts, {source.covariance_size} messages with bad covariances"
        return DiagnosticStatus(level=level, name=f"predictor_node: targets {source.topic}", hardware_id=source.topic,
                                message=message, values=_key_values(values))

    def _guard_values(self, track) -> dict:
        """The guard's mean weight of the classical filter in the track's latest prediction (0: the network)."""
        predictor = self.bank.predictor
        if not getattr(predictor, "guard", 0.0):
            return {}
        return {"guard_weight": f"{float(predictor.guard_weight([track.slot])[0]):.2f}"}

    # ---- runtime parameter changes --------------------------------------------------------------
    def _on_set_parameters(self, parameters) -> SetParametersResult:
        ours = {field.name for field, _ in PredictorParameters.settings()}
        changes = {p.name: p.value for p in parameters if p.name in ours}
        try:
            config = self.config.replace(**changes)          # validated like the start-up values
            if config.horizon_steps > self.bank.predictor.horizon_steps:
                raise ConfigError(f"horizon_steps {config.horizon_steps} exceeds the checkpoint's "
                                  f"{self.bank.predictor.horizon_steps}")
        except (ConfigError, TypeError) as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.config = config
        for parameter in parameters:
            if parameter.name == "horizon_steps":
                self.bank.horizon_steps = parameter.value or self.bank.predictor.horizon_steps
            elif parameter.name in ("track_timeout", "max_speed"):
                setattr(self.bank, parameter.name, float(parameter.value))
        return SetParametersResult(successful=True)


def _key_values(values: dict) -> list[KeyValue]:
    return [KeyValue(key=str(k), value=str(v)) for k, v in values.items()]


def _start_node() -> PredictorNode:
    """The node, then the start-up heap (torch, numpy, the model: ~200k objects) frozen, so the full
    garbage collections that many tracks' predictions trigger skip it (80-100 ms pauses otherwise)."""
    node = PredictorNode()
    node.get_logger().info(f"{freeze_startup_heap()} start-up objects frozen for the garbage collector")
    return node


def main(args=None) -> int:
    """Console script `predictor_node` (accepts --ros-args -p name:=value / --params-file)."""
    return spin_node("predictor_node", _start_node, args, PredictorParameters)


if __name__ == "__main__":
    sys.exit(main())

"""Soak: many simulated vehicles at 20 Hz through the real predictor_node over loopback DDS, for minutes.

    nice .venv/bin/python bench/soak.py --minutes 10 [--vehicles 100] [--rate 20] [--window 60]
                                        [--publisher own|sim] [--checkpoint CKPT] [--json OUT.json]
    nice .venv/bin/python bench/soak.py profile [--vehicles 100] [--seconds 10]   # CPU per message, in-process

Children (started and stopped by `uav_traj_predictor.harness`, each with `rosenv.loopback_env()`; they
are stopped with SIGINT so Fast DDS removes its /dev/shm segments, see known issue R7 in
docs/reliability.md): `predictor_node --params-file config/predictor.yaml` (the shipped parameters;
inputs found by its `odom_topic_regex`) and a publisher: by default this file's own
(`soak.py publish`: N vehicles on /uav<i>/odom, circles, stamps from the wall clock, exact counts of
what it published) or `sim_node` (`--publisher sim`). This process listens to /diagnostics only (cheap)
and samples the predictor's resident memory with psutil. Per window it prints: RSS, the node's
receive->publish latency p50/p99 (the node reports them over its last 2000 messages every second; a
window's p50 is the median of those, its p99 the maximum), messages in, predictions out, resets and
drops. At the end: memory growth after warm-up, p99 stability against the first window, messages
published vs received (DDS drops), predictions per track per second vs the 10 Hz grid, and lost
predictions (a track fed normally that published nothing in a window after warm-up, or any reset of
such a track). The same building blocks (`Publisher`, `start_predictor`, `DiagnosticsMonitor`) drive
the multi-process fault tests in test/integration/test_nodes_faults.py.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uav_traj_predictor import harness, rosenv

REPO = Path(__file__).resolve().parents[1]


# ---- children ---------------------------------------------------------------------------------------
def child_env(domain_id: int | None = None) -> dict:
    """Loopback DDS environment for a child. (FASTDDS_BUILTIN_TRANSPORTS=UDPv4 would not keep Fast DDS off
    /dev/shm: in localhost discovery mode rmw_fastrtps adds the shared-memory transport itself, R7.)"""
    env = rosenv.loopback_env(domain_id=domain_id)
    rosenv.check_loopback_dds(env)
    return env


def default_checkpoint(folder: Path) -> Path:
    """The shipped checkpoint if it loads, else a random one of the default architecture (same compute)."""
    from uav_traj_predictor.model import (Architecture, CheckpointError, VelocityGRU, default_checkpoint_path,
                                          load_checkpoint, save_checkpoint)
    shipped = default_checkpoint_path()
    try:
        load_checkpoint(shipped)
        return shipped
    except CheckpointError:
        pass
    import torch
    torch.manual_seed(0)
    model = VelocityGRU(Architecture())
    meta = {"model_id": "soak-random-default-arch", "rate": 10.0, "dt": 0.1, "min_history": 20,
            "cv_std": [0.05] * model.arch.horizon_steps, "training": {"data": "none (soak)"}, "metrics": {}}
    return save_checkpoint(folder / "soak.pt", model, meta)


def start_predictor(env: dict, checkpoint: Path, log: Path, *extra: str) -> harness.Child:
    """predictor_node with the shipped config/predictor.yaml and `checkpoint`; output appended to `log`."""
    command = [harness.console_script("predictor_node"), "--ros-args", "--params-file",
               str(REPO / "config" / "predictor.yaml"), "-p", f"checkpoint:={checkpoint}",
               "-p", "discovery_period:=0.5", *extra]
    return harness.start(command, env, log=log, append=True)


def start_publisher(env: dict, log: Path, vehicles: int, rate: float, *extra: str, kind: str = "own") -> harness.Child:
    """This file's publisher role (or sim_node) for `vehicles` vehicles on /uav<i>/odom."""
    if kind == "sim":
        command = [harness.console_script("sim_node"), "--ros-args", "-p", f"num_vehicles:={vehicles}",
                   "-p", f"rate:={rate}"]
    else:
        command = [sys.executable, str(Path(__file__).resolve()), "publish", "--vehicles", str(vehicles),
                   "--rate", str(rate), *extra]
    return harness.start(command, env, log=log, append=True)


# ---- publisher role ------------------------------------------------------------------------------------
def publish_main(argv) -> int:
    """`soak.py publish`: N vehicles at R Hz; --silent I@S stops vehicle I after S s; --burst START DURATION
    FACTOR publishes FACTOR samples per vehicle per period (evenly spaced stamps) during the burst.
    On SIGINT/SIGTERM prints one JSON line {"published": {topic: count}, "periods": n, "late": n}."""
    parser = argparse.ArgumentParser(prog="soak.py publish")
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--first", type=int, default=1, help="index of the first vehicle (/uav<i>/odom)")
    parser.add_argument("--silent", nargs="*", default=[], metavar="I@S", help="vehicle I stops after S s")
    parser.add_argument("--burst", nargs=3, type=float, metavar=("START", "DURATION", "FACTOR"))
    args = parser.parse_args(argv)

    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import qos_profile_sensor_data

    rosenv.check_loopback_dds()
    rclpy.init()
    node = rclpy.create_node("soak_publisher")
    indices = list(range(args.first, args.first + args.vehicles))
    topics = [f"/uav{i}/odom" for i in indices]
    publishers = [node.create_publisher(Odometry, topic, qos_profile_sensor_data) for topic in topics]
    silent = {int(item.split("@")[0]): float(item.split("@")[1]) for item in args.silent}
    counts = dict.fromkeys(topics, 0)
    started = time.monotonic()
    period = 1.0 / args.rate
    state = {"periods": 0, "late": 0, "next": started}
    phases = np.array([0.7 * i for i in indices])
    centres = np.array([[40.0 * i, 0.0, 10.0] for i in indices])

    def publish_all():
        now = time.monotonic()
        elapsed = now - started
        if now - state["next"] > period:
            state["late"] += 1
        state["next"] = now + period
        state["periods"] += 1
        factor = 1
        if args.burst and args.burst[0] <= elapsed < args.burst[0] + args.burst[1]:
            factor = int(args.burst[2])
        wall = time.time()
        for sub in range(factor):
            stamp = wall - period + period * (sub + 1) / factor
            angle = 0.4 * stamp + phases
            positions = centres + np.column_stack([8.0 * np.cos(angle), 8.0 * np.sin(angle), 0.5 * np.sin(2 * angle)])
            for k, (index, publisher) in enumerate(zip(indices, publishers)):
                if index in silent and elapsed >= silent[index]:
                    continue
                msg = Odometry()
                msg.header.stamp.sec = int(stamp)
                msg.header.stamp.nanosec = int((stamp - int(stamp)) * 1e9)
                msg.header.frame_id = "map"
                msg.child_frame_id = "base_link"
                msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z = positions[k]
                msg.pose.pose.orientation.w = 1.0
                publisher.publish(msg)
                counts[topics[k]] += 1

    node.create_timer(period, publish_all)
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
    try:
        while rclpy.ok() and not stop_requested:
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):   # SIGINT: rclpy's handler may shut the context down
        pass                                                  # while spin_once waits (a CI run exited 1 so)
    finally:
        print(json.dumps({"published": counts, "periods": state["periods"], "late": state["late"]}), flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def publisher_summary(log: Path) -> dict:
    """The publisher's final JSON line ({"published": {topic: count}, "periods": n, "late": n}); {} if none."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{\"published\""):
            return json.loads(line)
    return {}


def published_counts(log: Path) -> dict:
    """Messages the publisher published per topic ({} if it printed no summary)."""
    return publisher_summary(log).get("published", {})


# ---- monitor ----------------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """One /diagnostics message of predictor_node, reduced to numbers."""
    at: float                       # monotonic time of arrival
    node: dict                      # node-level key -> value (latency, tick, stats)
    tracks: dict                    # track id -> {received, predictions, history, resets..., level}


@dataclass
class DiagnosticsMonitor:
    """Listens to /diagnostics (and nothing else) in this process; keeps every predictor_node snapshot."""
    snapshots: list = field(default_factory=list)

    def __post_init__(self):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        rosenv.check_loopback_dds()
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("soak_monitor", context=self.context)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        from rclpy.executors import SingleThreadedExecutor
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _on_diagnostics(self, msg) -> None:
        node, tracks = {}, {}
        for status in msg.status:
            values = {kv.key: _number(kv.value) for kv in status.values}
            if status.name == "predictor_node":
                node = values
            elif status.name.startswith("predictor_node: "):
                values["level"] = int.from_bytes(status.level, "little") if isinstance(status.level, bytes) \
                    else int(status.level)
                tracks[status.name.split(": ", 1)[1]] = values
        if node:
            self.snapshots.append(Snapshot(time.monotonic(), node, tracks))

    def spin_for(self, seconds: float, until=None) -> bool:
        """Spin up to `seconds`; stop early when `until(monitor)` is true. Returns whether it became true."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.1)
            if until is not None and until(self):
                return True
        return False

    @property
    def latest(self) -> Snapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def total(snapshot: Snapshot, key: str) -> float:
    return sum(float(values.get(key, 0) or 0) for values in snapshot.tracks.values())


# ---- soak run ------------------------------------------------------------------------------------------------
@dataclass
class Window:
    start: float
    end: float
    rss_mb: float
    latency_p50_ms: float
    latency_p99_ms: float
    tick_p99_ms: float
    received: int
    predictions: int
    starved_tracks: int            # tracks with input but no prediction in this window
    resets: int


def summarise_window(snapshots: list, start: float, end: float, rss_mb: float, t0: float) -> Window:
    inside = [s for s in snapshots if start <= s.at - t0 < end]
    before = [s for s in snapshots if s.at - t0 < start]
    first = before[-1] if before else (inside[0] if inside else None)
    last = inside[-1] if inside else first
    if first is None or last is None:
        return Window(start, end, rss_mb, math.nan, math.nan, math.nan, 0, 0, 0, 0)
    p50 = [s.node.get("latency_p50_ms") for s in inside if isinstance(s.node.get("latency_p50_ms"), float)]
    p99 = [s.node.get("latency_p99_ms") for s in inside if isinstance(s.node.get("latency_p99_ms"), float)]
    tick = [s.node.get("tick_p99_ms") for s in inside if isinstance(s.node.get("tick_p99_ms"), float)]
    starved = sum(1 for track, values in last.tracks.items()
                  if values.get("received", 0) > first.tracks.get(track, {}).get("received", 0)
                  and values.get("predictions", 0) <= first.tracks.get(track, {}).get("predictions", 0))
    resets = sum(v for k, v in last.node.items() if k.startswith("reset.") and isinstance(v, (int, float))) - \
        sum(v for k, v in first.node.items() if k.startswith("reset.") and isinstance(v, (int, float)))
    return Window(start, end, rss_mb, float(np.nanmedian(p50)) if p50 else math.nan,
                  float(np.nanmax(p99)) if p99 else math.nan, float(np.nanmax(tick)) if tick else math.nan,
                  int(total(last, "received") - total(first, "received")),
                  int(total(last, "predictions") - total(first, "predictions")), starved, int(resets))


def soak(seconds: float, vehicles: int = 100, rate: float = 20.0, window: float = 60.0, warmup: float | None = None,
         publisher: str = "own", checkpoint: Path | None = None, out: Path | None = None, echo=print,
         startup_timeout: float = 180.0) -> dict:
    """Run the soak; returns the figures (see module doc). Children are always stopped.

    This process must already be on loopback DDS (`rosenv.use_loopback_dds()`); children join its domain.
    """
    import psutil
    folder = Path(out or tempfile.mkdtemp(prefix="soak_"))
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint or default_checkpoint(folder)
    env = child_env(domain_id=int(os.environ["ROS_DOMAIN_ID"]))     # the monitor's (this process's) domain
    warmup = min(60.0, seconds / 3) if warmup is None else warmup
    shm_before = harness.shm_files()
    predictor = start_predictor(env, checkpoint, folder / "predictor.log")
    source = start_publisher(env, folder / "publisher.log", vehicles, rate, kind=publisher)
    monitor = DiagnosticsMonitor()
    process = psutil.Process(predictor.pid)
    windows, rss, cpu = [], [], {}
    try:
        def predicting(m):
            return sum(1 for v in m.latest.tracks.values() if v.get("predictions", 0) > 0) if m.latest else 0
        ready = monitor.spin_for(startup_timeout,
                                 until=lambda m: predictor.poll() is not None or predicting(m) >= vehicles)
        if not ready or predictor.poll() is not None:
            raise RuntimeError(f"only {predicting(monitor)} of {vehicles} vehicles predicting after "
                               f"{startup_timeout:g} s "
                               f"({len(monitor.snapshots)} diagnostics received, predictor exit code "
                               f"{predictor.poll()}); logs in {folder}")
        t0 = time.monotonic()
        cpu_start, shm_mapped = process.cpu_times(), harness.fast_dds_files(predictor.pid)
        echo(f"soak: {vehicles} vehicles at {rate:g} Hz, all tracks predicting; measuring {seconds:g} s "
             f"(warm-up {warmup:g} s, windows of {window:g} s), logs in {folder}")
        echo(f"{'window s':>12} {'RSS MB':>8} {'lat p50 ms':>10} {'lat p99 ms':>10} {'tick p99':>9} "
             f"{'msgs in':>9} {'preds out':>9} {'starved':>7} {'resets':>6}")
        next_window, start = window, 0.0
        while time.monotonic() - t0 < seconds:
            monitor.spin_for(min(1.0, seconds - (time.monotonic() - t0)))
            rss.append((time.monotonic() - t0, process.memory_info().rss / 2**20))
            if predictor.poll() is not None or source.poll() is not None:
                raise RuntimeError(f"a child exited early (predictor {predictor.poll()}, publisher {source.poll()})")
            elapsed = time.monotonic() - t0
            if elapsed >= next_window or elapsed >= seconds:
                result = summarise_window(monitor.snapshots, start, elapsed, rss[-1][1], t0)
                windows.append(result)
                echo(f"{start:5.0f}-{elapsed:<6.0f} {result.rss_mb:8.1f} {result.latency_p50_ms:10.3f} "
                     f"{result.latency_p99_ms:10.3f} {result.tick_p99_ms:9.3f} {result.received:9d} "
                     f"{result.predictions:9d} {result.starved_tracks:7d} {result.resets:6d}")
                next_window, start = next_window + window, elapsed     # windows tile the run
        measured = time.monotonic() - t0
        final = monitor.latest
        cpu_end = process.cpu_times()
        cpu = {"predictor_cpu_pct": round(100 * (cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system)
                                          / measured, 1),
               "load_average": [round(x, 2) for x in os.getloadavg()], "cpu_count": os.cpu_count(),
               "predictor_shm_files": sorted(shm_mapped)}
    finally:
        harness.stop(source, signal.SIGINT)
        code = harness.stop(predictor, signal.SIGINT)
        monitor.close()
    published = published_counts(folder / "publisher.log")
    result = figures(windows, rss, final, published, measured, warmup, vehicles, code,
                     sorted(harness.shm_files() - shm_before), folder)
    result["expected_in_measurement"] = int(round(vehicles * rate * measured))
    result["received_in_measurement"] = sum(w.received for w in windows)
    result.update(cpu)
    return result


def figures(windows, rss, final, published, measured, warmup, vehicles, exit_code, new_shm, folder) -> dict:
    after = [mb for t, mb in rss if t >= warmup]
    growth = 100.0 * (after[-1] - after[0]) / after[0] if len(after) > 1 else math.nan
    steady = [w for w in windows if w.start >= warmup] or windows
    p99_first = steady[0].latency_p99_ms if steady else math.nan
    p99_ratio = max(w.latency_p99_ms for w in steady) / p99_first if steady and p99_first > 0 else math.nan
    received = int(total(final, "received")) if final else 0
    sent = int(sum(published.values())) if published else None
    resets = {k: v for k, v in (final.node.items() if final else [])
              if k.startswith(("reset.", "dropped.", "ignored."))}
    result = {
        "measured_s": round(measured, 1), "vehicles": vehicles, "tracks": len(final.tracks) if final else 0,
        "rss_mb_after_warmup": round(after[0], 1) if after else None,
        "rss_mb_end": round(rss[-1][1], 1) if rss else None,
        "rss_growth_pct": round(growth, 2),
        "latency_p50_ms": [round(w.latency_p50_ms, 3) for w in windows],
        "latency_p99_ms": [round(w.latency_p99_ms, 3) for w in windows],
        "p99_ratio_to_first_steady_window": round(p99_ratio, 2),
        "messages_published": sent, "messages_received": received,
        "dds_drops": None if sent is None else sent - received,
        "predictions": int(total(final, "predictions")) if final else 0,
        "predictions_per_track_per_s": round(sum(w.predictions for w in windows) / max(measured, 1e-9) / vehicles, 2),
        "starved_track_windows_after_warmup": sum(w.starved_tracks for w in windows if w.start >= warmup),
        "resets_and_drops": resets, "predictor_exit_code": exit_code, "new_shm_segments": new_shm,
        "logs": str(folder),
    }
    result["lost_predictions"] = result["starved_track_windows_after_warmup"] + sum(
        v for k, v in resets.items() if k.startswith(("reset.", "dropped.")))
    return result


def print_figures(result: dict, echo=print) -> None:
    echo(f"RSS after warm-up {result['rss_mb_after_warmup']} MB -> end {result['rss_mb_end']} MB: "
         f"growth {result['rss_growth_pct']} % (target < 5 %)")
    echo(f"latency p99 max / first steady window: {result['p99_ratio_to_first_steady_window']} (target <= 2)")
    echo(f"during the measurement: received {result.get('received_in_measurement')} of "
         f"{result.get('expected_in_measurement')} expected (vehicles x rate x seconds)")
    echo(f"whole run incl. start-up and discovery: published {result['messages_published']}, "
         f"received {result['messages_received']}, not received {result['dds_drops']}")
    echo(f"predictions {result['predictions']} ({result['predictions_per_track_per_s']} per track per s; "
         f"grid 10 Hz), lost {result['lost_predictions']} (target 0); "
         f"resets/drops/ignored {result['resets_and_drops']}")
    echo(f"predictor CPU {result.get('predictor_cpu_pct')} % of one core; machine load average "
         f"{result.get('load_average')} on {result.get('cpu_count')} cores")
    echo(f"predictor exit code {result['predictor_exit_code']}, /dev/shm Fast DDS files mapped by the predictor "
         f"{len(result.get('predictor_shm_files', []))}, new on the machine during the run "
         f"{len(result['new_shm_segments'])} (any process)")


# ---- CPU cost of the node's own work (no DDS reception, no scheduler: independent of the machine load) ----------
def profile_main(argv) -> int:
    """`soak.py profile`: predictor_node built in this process; `seconds` of N vehicles at R Hz fed straight
    into its (raw, CDR bytes) subscription callback, one tick per publishing period, markers and diagnostics at
    their rates. Prints the CPU time per odometry message of each part and the implied share of one core."""
    parser = argparse.ArgumentParser(prog="soak.py profile")
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated seconds of input")
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args(argv)

    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.parameter import Parameter
    from rclpy.serialization import serialize_message

    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    rosenv.use_loopback_dds()
    checkpoint = args.checkpoint or default_checkpoint(Path(tempfile.mkdtemp(prefix="soak_profile_")))
    rclpy.init()
    topics = [f"/uav{i}/odom" for i in range(1, args.vehicles + 1)]
    node = PredictorNode(parameter_overrides=[Parameter("checkpoint", value=str(checkpoint)),
                                              Parameter("odom_topics", value=topics),
                                              Parameter("odom_topic_regex", value="")])
    entries = [node.inputs[topic] for topic in topics]
    cost = dict.fromkeys(("callbacks", "ticks (step, predict, publish Path + PredictedTrajectory)",
                          "markers", "diagnostics"), 0.0)
    names = list(cost)
    period, t0 = 1.0 / args.rate, 1.7e9
    periods = int(args.seconds * args.rate)
    messages = []
    for k in range(periods):
        stamp = t0 + k * period
        batch = []
        for i, entry in enumerate(entries):
            msg = Odometry()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp), int((stamp % 1) * 1e9)
            msg.header.frame_id = "map"
            angle = 0.4 * stamp + 0.7 * i
            msg.pose.pose.position.x, msg.pose.pose.position.y = 40.0 * i + 8 * math.cos(angle), 8 * math.sin(angle)
            msg.pose.pose.position.z = 10.0
            batch.append((entry, serialize_message(msg)))       # the raw subscription gets CDR bytes
        messages.append(batch)
    for k, batch in enumerate(messages):
        started = time.process_time()
        for entry, msg in batch:
            node._on_message(entry, msg)
        node.tick_due = False
        middle = time.process_time()
        node._tick()
        done = time.process_time()
        cost[names[0]] += middle - started
        cost[names[1]] += done - middle
        if k % max(1, round(args.rate / node.config.marker_rate)) == 0:
            node._publish_markers()
            cost[names[2]] += time.process_time() - done
        if k % max(1, round(args.rate * node.config.diagnostics_period)) == 0:
            before = time.process_time()
            node._publish_diagnostics()
            cost[names[3]] += time.process_time() - before
    count = periods * args.vehicles
    predictions = sum(track.predictions for track in node.bank.tracks.values())
    print(f"predictor_node CPU cost, {args.vehicles} vehicles x {args.rate:g} Hz x {args.seconds:g} s "
          f"({count} messages, {predictions} predictions, model {node.bank.predictor.model_id}):")
    for name, seconds in cost.items():
        print(f"  {name:<58} {1e6 * seconds / count:8.1f} us/message")
    total_cost = sum(cost.values())
    print(f"  {'total':<58} {1e6 * total_cost / count:8.1f} us/message = "
          f"{100 * total_cost / args.seconds:.0f} % of one core in real time (excluding DDS reception)")
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["publish"]:
        return publish_main(argv[1:])
    if argv[:1] == ["profile"]:
        return profile_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="odometry rate per vehicle (Hz)")
    parser.add_argument("--window", type=float, default=60.0, help="reporting window (s)")
    parser.add_argument("--warmup", type=float, help="seconds excluded from the growth figures "
                                                      "(default min(60, a third of the run))")
    parser.add_argument("--publisher", choices=("own", "sim"), default="own")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path, help="folder for the children's logs (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    rosenv.use_loopback_dds()                    # this process (the monitor) and its children share one domain
    try:
        result = soak(args.minutes * 60, args.vehicles, args.rate, args.window, args.warmup, args.publisher,
                      args.checkpoint, args.out)
    except RuntimeError as error:
        print(f"soak: error: {error}", file=sys.stderr)
        return 1
    print_figures(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

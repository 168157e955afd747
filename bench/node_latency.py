"""Prediction latency: core compute, real DDS end to end, and VECTOR-style callbacks for comparison.

    .venv/bin/python bench/node_latency.py [--checkpoint PATH] [--vehicles 100] [--rate 20] [--duration 10]
                                           [--skip-dds] [--skip-core] [--vector-size 64x2] [--json OUT]

(a) core: `TrackBank.push` + `tick` (one recurrent step + horizon prediction) per update, for 1 track
    (through the one-track C path, kernels/cstream.c, when built: `core_path` says which ran; and
    `core_one_track_numpy_us` the same with StreamingPredictor(fused=False), the numpy calls; with
    --crossover the tick p50 for 1-1000 due tracks through both, for kernels.dispatch.CPU_FUSED_UP_TO),
    with the product's defaults (the guard on; `core_one_track_no_guard_us` / `core_1000_tracks_no_guard`:
    guard 0, the network alone), and for 1000 tracks advanced in one tick (the C path in blocks of tracks)
    (`core_1000_tracks`: as a process
    without any GC setting; `core_1000_tracks_gc_frozen`: after `core.freeze_startup_heap()`, with the full
    collections seen);
(b) DDS: a publisher process sends nav_msgs/Odometry for N vehicles at R Hz (each message stamped with
    the wall clock just before its publish call), `predictor_node` runs as its own process, this process
    receives every vehicle's predicted_path; latency = receive time - stamp of the odometry message that
    completed the grid sample (the first one at or after t0); lost = grid steps with no prediction;
(c) VECTOR-style callbacks, both with an encoder-decoder GRU of our checkpoint's size (hidden H, L layers),
    random weights (the time does not depend on them), timed per 10 Hz message:
    `vector_published_callback_us`: what VECTOR's published ROS 2 node does per message for ONE velocity
      model (it also runs a position model, left out here: conservative): a pose buffer (Python list of
      0.1 s positions, one linearly interpolated sample appended per message, the 20 newest kept); when
      full, np.array of the 20 positions, 19 finite-difference velocities + the last one repeated,
      divided by 8 m/s, torch.tensor(float32).unsqueeze(0), encoder torch.nn.GRU(3, H, L, dropout 0.5
      if L > 1) in eval mode, decoder torch.nn.GRU(H, H, L) fed zeros (1, 10, H) from the encoder's
      final hidden state, torch.nn.Linear(H, 3), .squeeze(0).cpu().numpy(), times 8 m/s, forward-Euler
      positions from the last one in a Python loop (list -> np.array). Our re-implementation from that
      description; `--vector-size HxL` also times it at another size (e.g. VECTOR's released 64x2);
    `vector_lean_callback_us`: the least such a callback can do: the window's velocities through the
      encoder, the decoder fed zeros (1, 10, 3), the Linear, one cumsum (no buffer, no normalisation).
    speedup_p50 = published / core one track, speedup_p50_lean = lean / core one track (p50s).
All on one CPU thread (BLAS and torch pinned to one thread, as the nodes do). DDS stays on loopback.
"""
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # as the nodes do
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

WINDOW, HORIZON = 20, 10
VECTOR_PERIOD, VECTOR_MAX_SPEED = 0.1, 8.0     # the published node's pose spacing (s) and normaliser (m/s)


def percentiles(samples_s, scale=1e6):
    values = np.asarray(samples_s) * scale
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)), "n": len(values)}


# ---- (a) core ------------------------------------------------------------------------------------
def make_bank(checkpoint, capacity=8, fused=True, guard=None):
    """A TrackBank over the predictor with its defaults (`guard` None) or that guard rate (0: off)."""
    from uav_traj_predictor.core import TrackBank
    from uav_traj_predictor.model import StreamingPredictor
    options = {} if guard is None else {"guard": guard}
    return TrackBank(StreamingPredictor(checkpoint or None, capacity=capacity, fused=fused, **options),
                     track_timeout=1e9)


def circling(t: float, phase: float = 0.0):
    """(position, orientation) of a multirotor circling 3 m at 0.5 rad/s (0.75 m/s^2 toward the centre) at t:
    its body tilted along that acceleration (x, y, z, w): a checkpoint with the attitude input runs its thrust-axis
    estimate on every grid sample (on a steady circle the implied acceleration does not vary, so the consistency check
    keeps the input off; the estimate costs the same either way)."""
    angle = 0.5 * t + phase
    c, s = math.cos(angle), math.sin(angle)
    tilt = 0.5 * math.atan2(0.75, 9.81)              # half the tilt angle, about the axis (s, -c, 0) of the turn
    return (3 * c, 3 * s, 2.0), (s * math.sin(tilt), -c * math.sin(tilt), 0.0, math.cos(tilt))


def core_one_track(checkpoint, updates=3000, fused=True, guard=None, orientations=False):
    """push of one 10 Hz sample (one new grid sample) + tick (step + predict) for a single track
    (`fused` False: without the C one-track path, the numpy calls; `guard` 0: without the guard; `orientations`:
    each sample with the vehicle's orientation, as an Odometry carries it)."""
    bank = make_bank(checkpoint, fused=fused, guard=guard)
    times = []
    for k in range(updates):
        t = k * 0.1
        position, orientation = circling(t)
        if not orientations:
            orientation = None
        started = time.perf_counter()
        bank.push("uav", t, position, orientation=orientation)
        predictions = bank.tick().predictions    # built on first use: timed, as the node's per-track output uses it
        times.append(time.perf_counter() - started)
        assert len(predictions) == 1 or k == 0
    return percentiles(times[100:])


def core_crossover(checkpoint, counts=(1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 1000), ticks=400):
    """Tick p50 (us) with n tracks all due, through `advance`'s C path and through the batched numpy /
    torch calls (the C path switched off by CPU_FUSED_UP_TO = 0; the guard's C step runs in both, as in
    the product): where CPU_FUSED_UP_TO (kernels/dispatch.py) should sit."""
    from uav_traj_predictor.kernels import dispatch
    limit, rows = dispatch.CPU_FUSED_UP_TO, {}
    try:
        for n in counts:
            rows[n] = {}
            for path, up_to in (("c", max(counts)), ("batched", 0)):
                dispatch.CPU_FUSED_UP_TO = up_to
                bank, times = make_bank(checkpoint, capacity=n), []
                for k in range(ticks):
                    for i in range(n):
                        t = k * 0.1
                        bank.push(f"uav{i}", t, (3 * math.cos(0.5 * t + i), 3 * math.sin(0.5 * t + i), 2.0))
                    started = time.perf_counter()
                    bank.tick().predictions
                    times.append(time.perf_counter() - started)
                rows[n][path] = percentiles(times[50:])["p50"]
    finally:
        dispatch.CPU_FUSED_UP_TO = limit
    return {"cpu_fused_up_to": limit, "tick_p50_us": rows}


class FullCollections:
    """Durations (ms) of the generation-2 garbage collections while active."""

    def __init__(self):
        self.pauses_ms, self._started = [], 0.0

    def __call__(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses_ms.append(round((time.perf_counter() - self._started) * 1e3, 1))

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def core_many_tracks(checkpoint, tracks=1000, ticks=210, freeze=False, guard=None, orientations=False):
    """All tracks get one new grid sample, then one tick: push total and tick time per round (the result
    kept until the next tick, as the node keeps its latest predictions). `freeze`: gc frozen after set-up;
    `guard` 0: without the guard; `orientations`: each sample with the vehicle's orientation."""
    from uav_traj_predictor.core import freeze_startup_heap
    bank = make_bank(checkpoint, capacity=tracks, guard=guard)
    if freeze:
        freeze_startup_heap()
    names = [f"uav{i}" for i in range(tracks)]
    phase = np.linspace(0, 2 * np.pi, tracks)
    push_times, tick_times = [], []
    with FullCollections() as collections:
        for k in range(ticks):
            t = k * 0.1
            positions = np.column_stack([3 * np.cos(0.5 * t + phase), 3 * np.sin(0.5 * t + phase),
                                         np.full(tracks, 2.0)])
            poses = [circling(t, angle)[1] for angle in phase.tolist()] if orientations else [None] * tracks
            started = time.perf_counter()
            for name, position, orientation in zip(names, positions, poses):
                bank.push(name, t, position, orientation=orientation)
            pushed = time.perf_counter()
            result = bank.tick()
            predictions = result.predictions     # built on first use: timed with the tick, as releases that
            tick_times.append(time.perf_counter() - pushed)   # built them inside tick() did
            push_times.append(pushed - started)
            assert k == 0 or len(predictions) == tracks
    collected = len(gc.get_objects())          # what a full collection traverses (frozen objects are not)
    if freeze:
        gc.unfreeze()
    tick_ms = percentiles(tick_times[10:], 1e3)
    tick_ms["max"] = float(np.max(tick_times[10:]) * 1e3)
    return {"tick_ms": tick_ms, "push_all_ms": percentiles(push_times[10:], 1e3), "tracks": tracks,
            "gc_frozen": freeze, "full_gc_pauses_ms": collections.pauses_ms, "gc_tracked_objects": collected}


# ---- (c) VECTOR-style callbacks -------------------------------------------------------------------
def message_stream(calls, seed=0):
    """(stamp, position) of a 10 Hz odometry stream with small stamp jitter (a random walk in space)."""
    rng = np.random.default_rng(seed)
    positions = np.cumsum(rng.normal(0, 0.1, (calls, 3)), axis=0)
    stamps = np.arange(calls) * VECTOR_PERIOD + rng.uniform(0, 0.01, calls)
    return [(float(t), position) for t, position in zip(stamps, positions)]


class PoseBuffer:
    """Positions every VECTOR_PERIOD s, linearly interpolated between messages, the `size` newest kept."""

    def __init__(self, size=WINDOW):
        self.size, self.positions, self.previous, self.next_stamp = size, [], None, None

    def add(self, stamp, position) -> bool:
        """Take one message; True when the buffer is full."""
        position = np.asarray(position, dtype=np.float64)
        if self.previous is None:
            self.positions.append(position)
            self.next_stamp = stamp + VECTOR_PERIOD
        elif stamp >= self.next_stamp:
            before, previous = self.previous
            weight = (self.next_stamp - before) / (stamp - before)
            self.positions.append(previous + weight * (position - previous))
            self.next_stamp += VECTOR_PERIOD
        self.previous = (stamp, position)
        if len(self.positions) > self.size:
            self.positions = self.positions[-self.size:]
        return len(self.positions) == self.size


def vector_published_model(hidden, layers):
    import torch
    encoder = torch.nn.GRU(3, hidden, layers, batch_first=True, dropout=0.5 if layers > 1 else 0.0).eval()
    decoder = torch.nn.GRU(hidden, hidden, layers, batch_first=True).eval()
    return encoder, decoder, torch.nn.Linear(hidden, 3).eval()


def vector_published_callback(buffer, model, stamp, position):
    """One message as the published node handles it for one velocity model: buffer, window, encoder-decoder
    inference, de-normalisation, forward-Euler positions. None until the buffer is full."""
    import torch
    if not buffer.add(stamp, position):
        return None
    encoder, decoder, head = model
    positions = np.array(buffer.positions)
    velocities = np.diff(positions, axis=0) / VECTOR_PERIOD
    velocities = np.vstack([velocities, velocities[-1:]])                  # 20 inputs: the last one repeated
    inputs = torch.tensor(velocities / VECTOR_MAX_SPEED, dtype=torch.float32).unsqueeze(0)
    _, state = encoder(inputs)
    decoded, _ = decoder(torch.zeros(1, HORIZON, decoder.hidden_size), state)
    future = head(decoded).squeeze(0).cpu().numpy() * VECTOR_MAX_SPEED
    path, current = [], positions[-1]
    for velocity in future:
        current = current + velocity * VECTOR_PERIOD
        path.append(current)
    return np.array(path)


def time_vector_published(hidden, layers, calls=400):
    import torch
    model, buffer = vector_published_model(hidden, layers), PoseBuffer()
    times = []
    with torch.no_grad():
        for stamp, position in message_stream(calls):
            started = time.perf_counter()
            path = vector_published_callback(buffer, model, stamp, position)
            if path is not None:
                times.append(time.perf_counter() - started)
    assert path.shape == (HORIZON, 3)
    return percentiles(times[20:])


def time_vector_lean(hidden, layers, calls=300):
    """Per message: 20 positions -> 20 velocities -> encoder GRU -> decoder GRU on zeros -> Linear -> cumsum."""
    import torch
    encoder = torch.nn.GRU(3, hidden, layers, batch_first=True)
    decoder = torch.nn.GRU(3, hidden, layers, batch_first=True)
    head = torch.nn.Linear(hidden, 3)
    window = np.cumsum(np.random.default_rng(0).normal(0, 0.1, (WINDOW + 1, 3)), axis=0)
    times = []
    with torch.no_grad():
        for _ in range(calls):
            started = time.perf_counter()
            velocities = torch.from_numpy(np.diff(window, axis=0) / 0.1).float()[None]
            _, h = encoder(velocities)
            out, _ = decoder(torch.zeros(1, HORIZON, 3), h)
            future = head(out)[0].numpy()
            np.cumsum(future * 0.1, axis=0) + window[-1]
            times.append(time.perf_counter() - started)
    return percentiles(times[20:])


def size_arg(text):
    """"HxL" -> (hidden, layers)."""
    try:
        hidden, layers = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HIDDENxLAYERS such as 64x2, got {text!r}") from None
    if hidden < 1 or layers < 1:
        raise argparse.ArgumentTypeError(f"hidden and layers must be positive, got {text!r}")
    return hidden, layers


# ---- (b) DDS end to end --------------------------------------------------------------------------
def run_publisher(vehicles, rate, duration, start, stamps_file):
    """Child process: odometry for `vehicles` topics, rounds on the schedule start + k / rate; each message
    is stamped with the wall clock just before it is published (all stamps saved to `stamps_file`)."""
    import rclpy
    from nav_msgs.msg import Odometry
    from rclpy.qos import qos_profile_sensor_data
    rclpy.init()
    node = rclpy.create_node("bench_odometry")
    publishers = [node.create_publisher(Odometry, f"/uav{i}/odom", qos_profile_sensor_data) for i in range(vehicles)]
    msg = Odometry()
    msg.header.frame_id, msg.child_frame_id = "map", "base_link"
    msg.pose.pose.orientation.w = 1.0
    phase = np.linspace(0, 2 * np.pi, vehicles)
    rounds = int(duration * rate)
    stamps = np.zeros((rounds, vehicles))
    lateness = []
    for k in range(rounds):
        scheduled = start + k / rate
        time.sleep(max(0.0, scheduled - time.time()))
        t = k / rate
        for i, publisher in enumerate(publishers):
            p = msg.pose.pose.position
            p.x, p.y, p.z = 3 * math.cos(0.5 * t + phase[i]) + 10 * i, 3 * math.sin(0.5 * t + phase[i]), 2.0
            now = time.time()
            sec = math.floor(now)
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, int((now - sec) * 1e9)
            stamps[k, i] = sec + msg.header.stamp.nanosec * 1e-9       # exactly what the node reads
            publisher.publish(msg)
        lateness.append(time.time() - scheduled)
    node.destroy_node()
    rclpy.try_shutdown()
    np.save(stamps_file, stamps)
    print(json.dumps({"publisher_round_ms": percentiles(lateness, 1e3)}))


def dds_end_to_end(checkpoint, vehicles, rate, duration, markers):
    import rclpy
    from nav_msgs.msg import Path as PathMsg

    from uav_traj_predictor import harness, rosenv
    from uav_traj_predictor.nodes.compat import SubscriptionEventCallbacks
    env = rosenv.loopback_env()
    rosenv.use_loopback_dds(domain_id=int(env["ROS_DOMAIN_ID"]))
    folder = Path(tempfile.mkdtemp(prefix="node_latency_"))
    topics = "[" + ", ".join(f"'/uav{i}/odom'" for i in range(vehicles)) + "]"
    predictor_cmd = [harness.console_script("predictor_node"), "--ros-args", "-p", f"odom_topics:={topics}",
                     "-p", f"publish_markers:={'true' if markers else 'false'}", "-p", "track_timeout:=5.0"]
    predictor_cmd += ["-p", f"checkpoint:={checkpoint}"] if checkpoint else []
    predictor = harness.start(predictor_cmd, env, log=folder / "predictor.log")
    rclpy.init()
    node = rclpy.create_node("bench_receiver")
    received = {i: [] for i in range(vehicles)}
    for i in range(vehicles):
        def on_path(data, i=i):   # raw: only the header stamp is needed (keeps this receiver cheap)
            sec, nanosec = struct.unpack_from("<iI", data, 4)
            received[i].append((sec + nanosec * 1e-9, time.time()))
        node.create_subscription(PathMsg, f"/uav{i}/predicted_path", on_path, 100, raw=True,
                                 event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))
    from diagnostic_msgs.msg import DiagnosticArray
    node_status = {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == "predictor_node":
                node_status.update({kv.key: kv.value for kv in status.values})
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    publisher = None
    try:
        deadline = time.monotonic() + 120
        while (node.count_publishers("/uav0/predicted_path") == 0
               or node.count_publishers(f"/uav{vehicles - 1}/predicted_path") == 0):
            rclpy.spin_once(node, timeout_sec=0.1)
            if time.monotonic() > deadline or predictor.poll() is not None:
                raise RuntimeError("predictor_node did not start: "
                                   + (predictor.output() if predictor.poll() is not None else "timeout"))
        start = time.time() + 2.0
        stamps_file = folder / "stamps.npy"
        publisher = harness.start([sys.executable, __file__, "--publisher", str(vehicles), str(rate), str(duration),
                                   repr(start), str(stamps_file)], env, log=folder / "publisher.log")
        end = start + duration + 1.5
        while time.time() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
        publisher.wait(timeout=60)
        publisher_report = json.loads([line for line in publisher.output().splitlines() if line.startswith("{")][-1])
    finally:
        if publisher is not None:
            harness.stop(publisher, signal.SIGKILL)
        harness.stop(predictor, signal.SIGTERM, timeout=30)
        node.destroy_node()
        rclpy.try_shutdown()
    if not any(received.values()):
        raise RuntimeError("no predicted_path received from predictor_node")
    sent = np.load(stamps_file)
    latencies, lost, got = [], 0, 0
    warm_until = start + 3.0                       # after warm-up, discovery and the first grid samples
    for i, rows in received.items():
        rows = [(t0, r) for t0, r in rows if t0 >= warm_until]
        got += len(rows)
        stamps = sent[:, i]
        for t0, recv in rows:                      # the message that completed the grid sample at t0
            latencies.append(recv - stamps[np.searchsorted(stamps, t0 - 1e-7)])
        if len(rows) > 1:
            steps = np.round(np.diff([t0 for t0, _ in rows]) / 0.1)
            lost += int(np.sum(steps - 1))
    expected = vehicles * int((start + duration - warm_until) * 10)
    return {"latency_ms": percentiles(latencies, 1e3), "vehicles": vehicles, "rate_hz": rate, "duration_s": duration,
            "predictions": got, "expected_about": expected, "lost_grid_steps": lost, "markers": markers,
            **publisher_report, "node_diagnostics": {k: v for k, v in node_status.items() if "_ms" in k}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="", help="model checkpoint (default: the shipped one)")
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--markers", action="store_true", help="let predictor_node publish markers too")
    parser.add_argument("--skip-dds", action="store_true")
    parser.add_argument("--skip-core", action="store_true")
    parser.add_argument("--crossover", action="store_true",
                        help="also time ticks of 1-32 tracks through the C path and the batched calls")
    parser.add_argument("--vector-size", type=size_arg, action="append", default=[], metavar="HxL",
                        help="also time the published VECTOR-style callback at this size (repeatable)")
    parser.add_argument("--json", help="also write the results here")
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--publisher":
        vehicles, rate, duration, start, stamps_file = sys.argv[2:7]
        return run_publisher(int(vehicles), float(rate), float(duration), float(start), stamps_file)
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from uav_traj_predictor.model import StreamingPredictor
    predictor = StreamingPredictor(args.checkpoint or None)
    arch = predictor.model.arch
    results = {"model_id": predictor.model_id, "hidden": arch.hidden, "layers": arch.layers,
               "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    if not args.skip_core:
        results["core_path"] = "C one-track path (kernels/cstream.c)" if predictor.fused else "numpy"
        core = results["core_one_track_us"] = core_one_track(args.checkpoint)
        results["core_one_track_numpy_us"] = core_one_track(args.checkpoint, fused=False)
        results["core_one_track_no_guard_us"] = core_one_track(args.checkpoint, guard=0.0)
        results["core_1000_tracks"] = core_many_tracks(args.checkpoint)
        results["core_1000_tracks_no_guard"] = core_many_tracks(args.checkpoint, guard=0.0)
        results["core_1000_tracks_gc_frozen"] = core_many_tracks(args.checkpoint, freeze=True)
        published = results["vector_published_callback_us"] = time_vector_published(arch.hidden, arch.layers)
        lean = results["vector_lean_callback_us"] = time_vector_lean(arch.hidden, arch.layers)
        results["speedup_p50"] = published["p50"] / core["p50"]
        results["speedup_p50_lean"] = lean["p50"] / core["p50"]
        if args.crossover:
            results["core_crossover"] = core_crossover(args.checkpoint)
        for hidden, layers in args.vector_size:
            results[f"vector_published_callback_us_{hidden}x{layers}"] = time_vector_published(hidden, layers)
    if not args.skip_dds:
        results["dds"] = dds_end_to_end(args.checkpoint, args.vehicles, args.rate, args.duration, args.markers)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Many targets through real DDS: one TargetArray topic in, the batched PredictedTrajectoryArray out.

    cd /tmp && $REPO/.venv/bin/python $REPO/bench/targets_dds.py [--targets 1000] [--rate 10] [--duration 30]
        [--shards 1] [--covariance] [--checkpoint PATH] [--node-param NAME:=VALUE ...] [--json OUT]
        [--in-process [--rounds 200]] [--transport 50,400,500,530,745]

Three processes on loopback DDS (a random ROS_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, through
`harness` and `rosenv`): a publisher (a child process) sends one uav_traj_predictor/TargetArray of all
targets per round at `rate` Hz, written from numpy arrays (`nodes.cdr.target_array_cdr`); `predictor_node`
(`--shards` N: N instances with shard_count N) predicts them with the product's defaults (the shipped
checkpoint, the guard on) and `publish_batch: true` (markers off: at 1000 targets a MarkerArray takes
~0.2 s, docs/nodes.md); this process receives every PredictedTrajectoryArray (raw bytes, ids and origins
read by `nodes.cdr.read_trajectory_array`).

Round k is stamped on the schedule (start + k / rate; rounds after the first 5 us after their slot, so that
float rounding at epoch magnitudes never leaves a grid time just past the round that completes it), so
each round completes exactly one 10 Hz grid sample per target: one prediction per target and round is due.
* delivered = predictions received / due, over the rounds after the first 3 s (warm-up, discovery);
* latency = receive wall time - the publisher's wall time just before it published the round that
  completed the grid sample (`latency_ms`); `latency_from_schedule_ms` adds the publisher's own lateness
  (receive time - the round's scheduled time);
* the publisher's lateness per round, the node's diagnostics (tick, inside-the-node latency), and the
  load average before and after.
Every target of a round shares its publish and receive times, so the percentiles are over rounds.

`--transport KB,...`: what one message of each size costs to go from one process to another on loopback
DDS (why the batched output is split at `batch_max_kib`): a child publishes 20 raw messages per size
(PredictedTrajectoryArray topic, payload = the send wall time and zeros), this process receives them raw;
p50 / p90 of receive time - send time per size.

`--in-process`: where the node's time goes, without DDS: a PredictorNode built in this process gets the
same TargetArray bytes straight into its callback (`_on_targets`: parse, covariance levels, one
`TrackBank.push` per target) and then ticks (`_tick`: `TrackBank.tick`, i.e. the batched GRU step, head and
guard for every target, then the PredictedTrajectoryArray written from the batch), `--rounds` times after
40 warm-up rounds; min / p10 / p50 / p99 of each part (the min is what a quiet core gives), and of the
tick's `StreamingPredictor.advance` call (the batched GRU step, head and guard; the rest of the tick is the
track bank's bookkeeping and the batched output).
"""
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # as the nodes do
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

WARM_UP_S = 3.0
SLOT_OFFSET_NS = 5_000


def percentiles(values, scale=1.0):
    values = np.asarray(values, np.float64) * scale
    if not len(values):
        return {"n": 0}
    return {"p50": round(float(np.percentile(values, 50)), 3), "p99": round(float(np.percentile(values, 99)), 3),
            "max": round(float(values.max()), 3), "n": len(values)}


def target_positions(count, t):
    phase = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
    return np.column_stack([20.0 * np.arange(count) % 2000.0 + 5.0 * np.cos(0.4 * t + phase),
                            20.0 * (np.arange(count) // 100) + 5.0 * np.sin(0.4 * t + phase),
                            np.full(count, 10.0) + 0.5 * np.sin(0.2 * t + phase)])


def run_publisher(count, rate, duration, shards, out, covariance):
    """Child process: once every predictor's reader has matched, one TargetArray of `count` targets per round
    on the schedule start + k / rate (start: the next whole second but one); saves (scheduled stamp ns,
    publish wall time) per round to `out`."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    from uav_traj_predictor.msg import TargetArray
    from uav_traj_predictor.nodes import cdr
    rclpy.init()
    node = rclpy.create_node("bench_targets")
    publisher = node.create_publisher(TargetArray, "/targets", qos_profile_sensor_data)
    ids = [f"target_{i}" for i in range(count)]
    covariances = np.tile(np.diag([4e-4, 4e-4, 1e-3]), (count, 1, 1)) if covariance else None
    deadline = time.monotonic() + 120
    while publisher.get_subscription_count() < shards:       # best effort: nothing sent before a match arrives
        if time.monotonic() > deadline:
            raise SystemExit("no predictor_node subscribed to /targets within 120 s")
        time.sleep(0.05)
    start_ns = (int(time.time()) + 2) * 1_000_000_000
    period_ns = int(round(1e9 / rate))
    rounds = int(duration * rate)
    stamps, published = np.zeros(rounds, np.int64), np.zeros(rounds)
    for k in range(rounds):
        stamp = start_ns + k * period_ns + (SLOT_OFFSET_NS if k else 0)
        time.sleep(max(0.0, stamp * 1e-9 - time.time()))
        data = cdr.target_array_cdr(stamp, "map", ids, target_positions(count, stamp * 1e-9), covariances)
        published[k] = time.time()
        publisher.publish(data)
        stamps[k] = stamp
    time.sleep(1.0)                      # let the last rounds leave before the writer goes away
    node.destroy_node()
    rclpy.try_shutdown()
    np.savez(out, stamps=stamps, published=published)


def run(count, rate, duration, shards, covariance, checkpoint, node_params=()):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from uav_traj_predictor import harness, rosenv
    from uav_traj_predictor.msg import PredictedTrajectoryArray
    from uav_traj_predictor.nodes import cdr
    from uav_traj_predictor.nodes.compat import SubscriptionEventCallbacks
    env = rosenv.loopback_env()
    rosenv.use_loopback_dds(domain_id=int(env["ROS_DOMAIN_ID"]))
    folder = Path(tempfile.mkdtemp(prefix="targets_dds_"))
    load_before = os.getloadavg()
    nodes = []
    for index in range(shards):
        command = [harness.console_script("predictor_node"), "--ros-args", "-r", f"__node:=predictor_{index}",
                   "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true", "-p", "publish_markers:=false",
                   "-p", f"max_tracks:={max(count, 1)}", "-p", "track_timeout:=5.0",
                   "-p", f"shard_count:={shards}", "-p", f"shard_index:={index}"]
        command += ["-p", f"checkpoint:={checkpoint}"] if checkpoint else []
        for param in node_params:
            command += ["-p", param]
        nodes.append(harness.start(command, env, log=folder / f"predictor_{index}.log"))
    rclpy.init()
    node = rclpy.create_node("bench_receiver")
    received = []                                            # (receive wall time, [(id, origin s)])

    def on_batch(data):
        arrived = time.time()
        message = cdr.read_trajectory_array(data)
        received.append((arrived, message.track_ids, message.origins.copy()))
    node.create_subscription(PredictedTrajectoryArray, "/predicted_trajectories", on_batch, 100, raw=True,
                             event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False))
    diagnostics = {}

    def on_diagnostics(msg):
        node_name = None
        for status in msg.status:                 # the node statuses, by node name (one per shard)
            if status.name == "predictor_node":
                node_name = status.hardware_id
                diagnostics[node_name] = {kv.key: kv.value for kv in status.values}
            elif node_name and status.name.startswith("predictor_node: targets"):   # its TargetArray callback
                diagnostics[node_name].update({kv.key: kv.value for kv in status.values if "callback" in kv.key})
    from diagnostic_msgs.msg import DiagnosticArray
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    publisher = None
    # one executor for the whole run: rclpy.spin_once(node) adds and removes the node (rebuilding the wait set)
    # at every call, a cost a real consumer does not pay, taken here once per batched message
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        deadline = time.monotonic() + 120
        while node.count_publishers("/predicted_trajectories") < shards or node.count_subscribers("/targets") < shards:
            executor.spin_once(timeout_sec=0.1)
            harness.check_running(nodes)
            if time.monotonic() > deadline:
                raise RuntimeError("predictor_node did not start within 120 s")
        publisher = harness.start([sys.executable, __file__, "--publisher", str(count), str(rate), str(duration),
                                   str(shards), str(folder / "rounds.npz"), str(int(covariance))], env,
                                  log=folder / "publisher.log")
        while publisher.poll() is None:                       # the publisher ends 1 s after its last round
            executor.spin_once(timeout_sec=0.05)
            harness.check_running(nodes)
        if publisher.returncode != 0:
            raise RuntimeError(f"publisher failed: {publisher.output()[-2000:]}")
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        if publisher is not None:
            harness.stop(publisher, signal.SIGKILL)
        codes = harness.stop_all(nodes, signal.SIGTERM, timeout=30)
        node.destroy_node()
        rclpy.try_shutdown()
    rounds = np.load(folder / "rounds.npz")
    stamps, published = rounds["stamps"] * 1e-9, rounds["published"]
    measured = stamps >= stamps[0] + WARM_UP_S
    first = int(np.argmax(measured))
    due = count * int(measured.sum())
    latency, from_schedule, seen, duplicates = [], [], set(), 0
    for arrived, ids, origins in received:
        index = np.searchsorted(stamps, origins - 1e-4)     # the round that completed the grid sample
        for track_id, k in zip(ids, index.tolist()):
            if k < first or k >= len(stamps):
                continue
            key = (track_id, k)
            duplicates += key in seen
            seen.add(key)
            latency.append(arrived - published[k])
            from_schedule.append(arrived - stamps[k])
    missing = [int(k) for k in np.flatnonzero(np.bincount([k for _, k in seen], minlength=len(stamps)) < count)
               if k >= first]
    return {"targets": count, "rate_hz": rate, "node_params": list(node_params), "duration_s": duration,
            "shards": shards, "covariance": covariance,
            "rounds_measured": int(measured.sum()), "due": due, "delivered": len(seen),
            "delivered_fraction": round(len(seen) / max(due, 1), 6), "duplicates": duplicates,
            "rounds_incomplete": missing[:20],
            "latency_ms": percentiles(latency, 1e3), "latency_from_schedule_ms": percentiles(from_schedule, 1e3),
            "publisher_lateness_ms": percentiles(published - stamps, 1e3),
            "batched_messages": len(received), "node_exit_codes": codes,
            "node_diagnostics": {name: {k: v for k, v in values.items() if "_ms" in k or k == "tracks"}
                                 for name, values in diagnostics.items()},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}


def run_transport_publisher(sizes_kb):
    """Child process: 20 messages of each size (KB), the send wall time at byte 8, 0.1 s apart."""
    import struct

    import rclpy

    from uav_traj_predictor.msg import PredictedTrajectoryArray
    rclpy.init()
    node = rclpy.create_node("bench_transport_publisher")
    publisher = node.create_publisher(PredictedTrajectoryArray, "/bench_transport", 10)
    deadline = time.monotonic() + 60
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    for size in sizes_kb:
        for _ in range(20):
            payload = bytearray(int(size * 1000))
            payload[:4] = b"\x00\x01\x00\x00"
            struct.pack_into("<d", payload, 8, time.time())
            publisher.publish(bytes(payload))
            time.sleep(0.1)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.try_shutdown()


def transport(sizes_kb):
    """Receive time - send time per message size between two processes (see the module doc)."""
    import struct

    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from uav_traj_predictor import harness, rosenv
    from uav_traj_predictor.msg import PredictedTrajectoryArray
    env = rosenv.loopback_env()
    rosenv.use_loopback_dds(domain_id=int(env["ROS_DOMAIN_ID"]))
    rclpy.init()
    node = rclpy.create_node("bench_transport_receiver")
    delays = {}

    def on_message(data):
        arrived = time.time()
        delays.setdefault(len(data), []).append(arrived - struct.unpack_from("<d", data, 8)[0])
    node.create_subscription(PredictedTrajectoryArray, "/bench_transport", on_message, 100, raw=True)
    load_before = os.getloadavg()
    child = harness.start([sys.executable, __file__, "--transport-publisher", ",".join(map(str, sizes_kb))], env)
    executor = SingleThreadedExecutor()          # one for the run (see `run`)
    executor.add_node(node)
    try:
        while child.poll() is None:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        harness.stop(child)
        node.destroy_node()
        rclpy.try_shutdown()
    return {"delay_ms_by_bytes": {size: percentiles(values, 1e3) for size, values in sorted(delays.items())},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def in_process(count, rounds, covariance, checkpoint):
    """The node's callback and tick for `count` targets per round, in this process (see the module doc)."""
    import rclpy

    from uav_traj_predictor import rosenv
    from uav_traj_predictor.core import freeze_startup_heap
    from uav_traj_predictor.nodes import cdr
    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    rosenv.use_loopback_dds()
    context = rclpy.Context()
    rclpy.init(context=context)
    args = ["--ros-args", "-p", "target_topics:=['/targets']", "-p", "publish_batch:=true", "-p",
            "publish_markers:=false", "-p", "track_timeout:=1000.0", "-p", f"max_tracks:={count}"]
    node = PredictorNode(context=context, cli_args=args + (["-p", f"checkpoint:={checkpoint}"] if checkpoint else []))
    freeze_startup_heap()
    sent = []
    node.batch_pub = type("Recorder", (), {"publish": lambda self, data: sent.append(len(data))})()
    source = node.target_inputs["/targets"]
    ids = [f"target_{i}" for i in range(count)]
    covariances = np.tile(np.diag([4e-4, 4e-4, 1e-3]), (count, 1, 1)) if covariance else None
    start_ns, times, advance_times = 1_796_000_000 * 1_000_000_000, [], []
    predictor_advance = node.bank.predictor.advance

    def timed_advance(*args):
        started = time.perf_counter()
        result = predictor_advance(*args)
        advance_times.append(time.perf_counter() - started)
        return result
    node.bank.predictor.advance = timed_advance
    load_before = os.getloadavg()
    try:
        for k in range(40 + rounds):
            stamp = start_ns + k * 100_000_000 + (SLOT_OFFSET_NS if k else 0)
            data = cdr.target_array_cdr(stamp, "map", ids, target_positions(count, stamp * 1e-9), covariances)
            sent.clear()
            started = time.perf_counter()
            node._on_targets(source, data)
            pushed = time.perf_counter()
            node._tick()
            times.append((pushed - started, time.perf_counter() - pushed))
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    callback, tick = np.array(times[40:]).T * 1e3
    advance = np.array(advance_times[-rounds:]) * 1e3

    def summary(values):
        return {name: round(float(np.percentile(values, q)), 3) for name, q in
                (("min", 0), ("p10", 10), ("p50", 50), ("p99", 99))}
    return {"targets": count, "rounds": rounds, "covariance": covariance, "tracks": len(node.bank),
            "callback_ms": summary(callback), "tick_and_batch_ms": summary(tick),
            "predictor_advance_ms": summary(advance),
            "round_ms": summary(callback + tick), "batch_messages_per_round": len(sent), "batch_bytes_per_round":
            sum(sent),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--transport-publisher":
        return run_transport_publisher([float(size) for size in sys.argv[2].split(",")])
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--publisher":
        count, rate, duration, shards, out, covariance = sys.argv[2:8]
        return run_publisher(int(count), float(rate), float(duration), int(shards), out, bool(int(covariance)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--shards", type=int, default=1, help="predictor_node instances splitting the targets")
    parser.add_argument("--covariance", action="store_true", help="targets carry a 3x3 covariance each")
    parser.add_argument("--checkpoint", default="", help="model checkpoint (default: the shipped one)")
    parser.add_argument("--node-param", action="append", default=[], metavar="NAME:=VALUE",
                        help="another predictor_node parameter (repeatable), e.g. horizon_steps:=5 or guard:=0.0")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--in-process", action="store_true",
                        help="time the node's callback and tick in this process, without DDS (see the doc)")
    parser.add_argument("--rounds", type=int, default=200, help="rounds timed with --in-process")
    parser.add_argument("--transport", metavar="KB,...", help="time messages of these sizes between two processes")
    args = parser.parse_args(argv)
    if args.transport:
        result = transport([float(size) for size in args.transport.split(",")])
        print(json.dumps(result, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        return 0
    if args.in_process:
        result = in_process(args.targets, args.rounds, args.covariance, args.checkpoint)
        print(json.dumps(result, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        return 0
    if not (args.targets > 0 and args.rate > 0 and args.duration > WARM_UP_S and args.shards >= 1):
        parser.error(f"--targets, --rate and --shards must be positive and --duration above {WARM_UP_S:g} s")
    result = run(args.targets, args.rate, args.duration, args.shards, args.covariance, args.checkpoint,
                 args.node_param)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

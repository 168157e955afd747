"""How faithfully `uav-traj bag play` reproduces bag timing, and how fast it can replay 100 Hz odometry.

Writes a bag of synthetic 100 Hz nav_msgs/Odometry, plays it with the console script in a child
process (loopback DDS) and receives it here with a raw subscription. Prints:
  * at 1x: inter-message timing error percentiles (received interval - bag interval) and the drift
    (arrival time - due time, relative to the first message), in milliseconds;
  * for a sweep of --rate values: messages received and the speed the player achieved (bag time over
    its playing wall time); the maximum sustained rate is the highest rate with every message
    received and the replay at least 95 % as fast as asked.

    .venv/bin/python bench/bag_play_timing.py [--seconds 20] [--sweep-seconds 60] [--rates 10 50 100 200 300 400 800]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from uav_traj_predictor import rosenv

RATE_HZ = 100.0
TOPIC = "/bench/odom"
SUSTAINED_SPEED = 0.95


def make_bag(folder: Path, seconds: float) -> Path:
    from uav_traj_predictor.bags.from_flight import write_flights_bag
    from uav_traj_predictor.data.flight import make_flight
    t = 1_700_000_000.0 + np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    p = np.column_stack([np.cos(t), np.sin(t), np.full_like(t, 2.0)])
    bag = folder / f"odom_{seconds:g}s"
    write_flights_bag([make_flight("bench", "bench", t, p)], bag, topic=TOPIC)
    return bag


class Receiver:
    """Raw subscription recording the arrival time (perf_counter) and header stamp of each message."""

    def __init__(self):
        import rclpy
        from nav_msgs.msg import Odometry
        from rclpy.executors import SingleThreadedExecutor
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("bag_play_timing_probe", context=self.context)
        self.arrivals, self.raw = [], []
        self.node.create_subscription(Odometry, TOPIC, self._on_message, 10000, raw=True)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _on_message(self, data):
        self.arrivals.append(time.perf_counter())
        self.raw.append(data)

    def _spin(self):
        while not self.done.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    def take(self, quiet: float = 0.5):
        """(arrival times, header stamps) received since the last call, once `quiet` s pass without any."""
        from nav_msgs.msg import Odometry
        from rclpy.serialization import deserialize_message
        count = -1
        while count != len(self.arrivals):
            count = len(self.arrivals)
            time.sleep(quiet)
        arrivals, raw = np.array(self.arrivals), self.raw
        self.arrivals, self.raw = [], []
        stamps = np.array([(lambda h: h.stamp.sec + h.stamp.nanosec * 1e-9)(deserialize_message(r, Odometry).header)
                           for r in raw])
        return arrivals, stamps

    def close(self):
        self.done.set()
        self.thread.join()
        self.node.destroy_node()
        self.context.try_shutdown()


def play(bag: Path, rate: float, env: dict) -> tuple[str, float]:
    """Play `bag` at `rate` with the console script; (its summary line, its playing wall time in s)."""
    uav_traj = str(Path(sys.executable).parent / "uav-traj")
    result = subprocess.run([uav_traj, "bag", "play", str(bag), "--rate", str(rate), "--wait-for-subscribers", "1",
                             "--delay", "0.5"], env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"bag play failed: {result.stderr.strip()}")
    summary = result.stdout.splitlines()[0]
    return summary, float(re.search(r"messages in ([0-9.]+) s", summary).group(1))


def timing_errors(arrivals, stamps, rate: float) -> dict:
    """Percentiles (ms) of |interval error| and |drift| of received messages against the bag timing."""
    due = (stamps - stamps[0]) / rate
    late = arrivals - arrivals[0]
    interval_error = np.abs(np.diff(late) - np.diff(due)) * 1e3
    offset = late - due
    drift = np.abs(offset - np.median(offset)) * 1e3       # against the typical delivery latency

    def pct(values):
        return {"p50": np.percentile(values, 50), "p90": np.percentile(values, 90),
                "p99": np.percentile(values, 99), "max": values.max()}
    return {"interval": pct(interval_error), "drift": pct(drift)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="bag length at 1x (s)")
    ap.add_argument("--sweep-seconds", type=float, default=60.0, help="bag length for the rate sweep (s)")
    ap.add_argument("--rates", type=float, nargs="+", default=[10, 50, 100, 200, 300, 400, 800])
    args = ap.parse_args(argv)
    rosenv.use_loopback_dds()
    env = rosenv.loopback_env()
    folder = Path(tempfile.mkdtemp(prefix="bag_play_timing_"))
    receiver = Receiver()
    try:
        bag = make_bag(folder, args.seconds)
        print(f"1x replay of {args.seconds:g} s of {RATE_HZ:g} Hz Odometry ({TOPIC}), received in another process")
        print(f"  player: {play(bag, 1.0, env)[0]}")
        arrivals, stamps = receiver.take()
        errors = timing_errors(arrivals, stamps, 1.0)
        print(f"  received {len(arrivals)} of {int(args.seconds * RATE_HZ)}")
        for name, label in (("interval", "inter-message interval error"), ("drift", "drift from bag timing")):
            values = ", ".join(f"{k} {v:.3f}" for k, v in errors[name].items())
            print(f"  {label:<30} ms: {values}")
        sweep = make_bag(folder, args.sweep_seconds)
        expected = int(args.sweep_seconds * RATE_HZ)
        print(f"\nrate sweep, {args.sweep_seconds:g} s bag ({expected} messages):")
        print(f"  {'rate':>6} {'received':>9} {'play s':>8} {'achieved':>9} {'msg/s':>8}  sustained")
        best = 0.0
        for rate in args.rates:
            _, wall = play(sweep, rate, env)
            arrivals, _ = receiver.take()
            ideal = (expected - 1) / RATE_HZ / rate
            achieved = ideal / wall * rate if wall > 0 else float("inf")
            ok = len(arrivals) == expected and achieved >= SUSTAINED_SPEED * rate
            best = rate if ok and rate > best else best
            print(f"  {rate:>6g} {len(arrivals):>9d} {wall:>8.3f} {achieved:>8.1f}x {expected / wall:>8.0f}  "
                  f"{'yes' if ok else 'no'}")
        print(f"\nmaximum sustained replay rate: {best:g}x ({best * RATE_HZ:g} msg/s of 100 Hz odometry)")
    finally:
        receiver.close()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`uav-traj demo` (`make demo`): simulator + predictor as separate ROS 2 processes on loopback DDS.

Starts the `sim_node` and `predictor_node` console scripts (through `harness`: DDS confined to loopback), records
odometry and predictions in this process for `--duration` seconds after the first prediction of every
vehicle arrived, stops the children with SIGTERM (they exit cleanly, so Fast DDS removes its /dev/shm
segments; the demo checks that none of the participant segments its nodes mapped is left behind), then prints a
summary (live ADE/FDE of the model vs constant velocity, computed against the odometry received later;
odometry publish -> prediction receive latency; tracks; lost predictions) and draws the flown and
predicted paths to a PNG.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import harness, rosenv


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="uav-traj demo", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to record (default 30)")
    parser.add_argument("--vehicles", type=int, default=3, help="simulated vehicles (default 3)")
    parser.add_argument("--rate", type=float, default=50.0, help="odometry rate, Hz (default 50)")
    parser.add_argument("--noise", type=float, default=0.0, help="odometry position noise std, m (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    parser.add_argument("--checkpoint", default="", help="model checkpoint (default: the shipped one)")
    parser.add_argument("--out", default="out/demo", help="output folder for the PNG and logs (default out/demo)")
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="seconds to wait for predictions")
    args = parser.parse_args(argv)
    if not (args.duration > 0 and args.vehicles >= 1 and args.rate > 0 and args.noise >= 0):
        parser.error("--duration, --rate must be > 0, --vehicles >= 1, --noise >= 0")
    return args


@dataclass
class Record:
    """What the recorder saw of one vehicle."""
    odom_stamps: list = field(default_factory=list)
    odom_positions: list = field(default_factory=list)
    predictions: list = field(default_factory=list)   # (t0, dt, positions (H,3), status, receive wall time)


class Recorder:
    """In-process rclpy node recording odometry, predictions and the predictor's diagnostics."""

    def __init__(self, vehicles: int):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Odometry
        from rclpy.qos import QoSProfile, qos_profile_sensor_data

        from .msg import PredictedTrajectory
        rclpy.init(args=[])
        self.rclpy = rclpy
        self.node = rclpy.create_node("demo_recorder")
        self.records = {f"uav{i}": Record() for i in range(1, vehicles + 1)}
        self.diagnostics = {}
        # best effort like the publisher, with a deep history (the sensor-data profile keeps only 5 samples)
        odometry_qos = QoSProfile(depth=500, reliability=qos_profile_sensor_data.reliability,
                                  durability=qos_profile_sensor_data.durability)
        for name, record in self.records.items():
            self.node.create_subscription(Odometry, f"/{name}/odom", self._odometry(record), odometry_qos)
            self.node.create_subscription(PredictedTrajectory, f"/{name}/predicted_trajectory",
                                          self._prediction(record), 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    @staticmethod
    def _odometry(record):
        def callback(msg):
            p = msg.pose.pose.position
            record.odom_stamps.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
            record.odom_positions.append((p.x, p.y, p.z))
        return callback

    @staticmethod
    def _prediction(record):
        def callback(msg):
            received = time.time()
            t0 = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            dt = msg.time_step.sec + msg.time_step.nanosec * 1e-9
            positions = np.array([(p.x, p.y, p.z) for p in msg.positions])
            record.predictions.append((t0, dt, positions, msg.status, received))
        return callback

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name == "predictor_node":
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def spin_until(self, deadline: float, done=lambda: False, children=()):
        while time.monotonic() < deadline and not done():
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
            harness.check_running(children)

    def close(self):
        self.node.destroy_node()
        self.rclpy.try_shutdown()


def start_children(args, env, out: Path) -> list[harness.Child]:
    topics = "[" + ", ".join(f"'/uav{i}/odom'" for i in range(1, args.vehicles + 1)) + "]"
    commands = {
        "sim_node": [harness.console_script("sim_node"), "--ros-args", "-p", f"num_vehicles:={args.vehicles}",
                     "-p", f"rate:={float(args.rate)}", "-p", f"position_noise:={float(args.noise)}",
                     "-p", f"seed:={args.seed}"],
        "predictor_node": [harness.console_script("predictor_node"), "--ros-args", "-p", f"odom_topics:={topics}"]
        + (["-p", f"checkpoint:={args.checkpoint}"] if args.checkpoint else []),
    }
    return [harness.start(command, env, log=out / f"{name}.log", cwd=out) for name, command in commands.items()]


# ---- evaluation of what was recorded ------------------------------------------------------------
def live_errors(record: Record):
    """Per tracking prediction: (model ADE, model FDE, CV ADE, CV FDE) against the odometry (linear
    interpolation at t0 + k dt); CV extrapolates the velocity over the last grid step (t0 - dt, t0)."""
    if len(record.odom_stamps) < 2:
        return np.zeros((0, 4))
    t = np.asarray(record.odom_stamps)
    order = np.argsort(t, kind="stable")
    t, p = t[order], np.asarray(record.odom_positions)[order]
    rows = []
    for t0, dt, positions, status, _ in record.predictions:
        horizon = len(positions)
        times = t0 + dt * np.arange(1, horizon + 1)
        if status != 0 or t0 - dt < t[0] or times[-1] > t[-1]:
            continue
        truth = np.column_stack([np.interp(times, t, p[:, a]) for a in range(3)])
        p0, p_prev = (np.array([np.interp(s, t, p[:, a]) for a in range(3)]) for s in (t0, t0 - dt))
        cv = p0 + np.outer(np.arange(1, horizon + 1), p0 - p_prev)
        model_err = np.linalg.norm(positions - truth, axis=1)
        cv_err = np.linalg.norm(cv - truth, axis=1)
        rows.append((model_err.mean(), model_err[-1], cv_err.mean(), cv_err[-1]))
    return np.asarray(rows).reshape(-1, 4)


def latencies(record: Record) -> np.ndarray:
    """Odometry publish -> prediction receive: the grid sample at t0 is completed by the first odometry
    with stamp >= t0, stamped by sim_node (wall clock) just before it was published."""
    stamps = np.sort(np.asarray(record.odom_stamps))
    out = []
    for t0, _, _, _, received in record.predictions:
        i = np.searchsorted(stamps, t0 - 1e-9)
        if i < len(stamps):
            out.append(received - stamps[i])
    return np.asarray(out)


def lost_predictions(record: Record) -> int:
    """Missing grid steps between consecutive predictions of one segment (same grid phase)."""
    t0 = np.asarray([row[0] for row in record.predictions])
    if len(t0) < 2:
        return 0
    dt = record.predictions[0][1]
    steps = np.diff(t0) / dt
    same_grid = (np.abs(steps - np.round(steps)) < 1e-3) & (steps > 0)
    return int(np.sum(np.round(steps[same_grid]) - 1))


def summarise(records: dict, diagnostics: dict, duration: float) -> tuple[str, dict]:
    errors = np.vstack([live_errors(r) for r in records.values()])
    lat = np.concatenate([latencies(r) for r in records.values()]) * 1e3
    figures = {"tracks": sum(1 for r in records.values() if r.predictions),
               "predictions": sum(len(r.predictions) for r in records.values()),
               "odometry": sum(len(r.odom_stamps) for r in records.values()),
               "lost": sum(lost_predictions(r) for r in records.values()),
               "windows": len(errors)}
    if len(errors):
        figures.update(dict(zip(("ade", "fde", "cv_ade", "cv_fde"), errors.mean(axis=0))))
    if len(lat):
        figures.update(latency_p50=float(np.percentile(lat, 50)), latency_p99=float(np.percentile(lat, 99)))
    lines = [f"demo summary ({duration:.0f} s recorded, {len(records)} simulated vehicles)",
             f"  tracks with predictions : {figures['tracks']}/{len(records)}",
             f"  predictions received    : {figures['predictions']} (odometry messages {figures['odometry']}, "
             f"lost predictions {figures['lost']})"]
    if len(errors):
        lines.append(f"  live ADE / FDE (1 s)    : model {figures['ade']:.3f} / {figures['fde']:.3f} m, constant "
                     f"velocity {figures['cv_ade']:.3f} / {figures['cv_fde']:.3f} m ({len(errors)} windows)")
    if len(lat):
        lines.append(f"  latency odom -> pred    : p50 {figures['latency_p50']:.2f} ms, "
                     f"p99 {figures['latency_p99']:.2f} ms")
    if diagnostics:
        keep = {k: v for k, v in diagnostics.items() if k.startswith(("reset", "ignored", "dropped", "tick"))}
        lines.append("  predictor diagnostics   : " + (", ".join(f"{k}={v}" for k, v in keep.items()) or "-"))
    return "\n".join(lines), figures


def plot(records: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    count = len(records)
    fig, axes = plt.subplots(1, count, figsize=(5 * count, 5), squeeze=False)
    for ax, (name, record) in zip(axes[0], records.items()):
        if record.odom_positions:
            flown = np.asarray(record.odom_positions)
            ax.plot(flown[:, 0], flown[:, 1], color="0.3", lw=1.0, label="flown (odometry)")
        tracking = [row for row in record.predictions if row[3] == 0]
        for i, (_, _, positions, _, _) in enumerate(tracking[::5]):
            ax.plot(positions[:, 0], positions[:, 1], color="tab:red", lw=1.2, alpha=0.7,
                    label="predicted (1 s, every 0.5 s)" if i == 0 else None)
        ax.set_title(name)
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = rosenv.loopback_env()
    rosenv.use_loopback_dds(domain_id=int(env["ROS_DOMAIN_ID"]))
    from rclpy.executors import ExternalShutdownException
    print(f"demo: {args.vehicles} vehicles, ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} on loopback, logs in {out}")
    children = start_children(args, env, out)
    recorder, records, diagnostics, segments = None, {}, {}, set()
    ok = True
    try:
        recorder = Recorder(args.vehicles)
        started = time.monotonic()
        recorder.spin_until(started + args.startup_timeout, children=children,
                            done=lambda: all(r.predictions for r in recorder.records.values()))
        if not all(r.predictions for r in recorder.records.values()):
            raise RuntimeError(f"no predictions for every vehicle within {args.startup_timeout:g} s")
        print(f"demo: predictions flowing after {time.monotonic() - started:.1f} s; recording {args.duration:g} s")
        recorder.spin_until(time.monotonic() + args.duration, children=children)
        segments = harness.participant_segments([child.pid for child in children])
    except RuntimeError as error:
        print(f"demo: {error}; see the logs in {out}", file=sys.stderr)
        ok = False
    except (KeyboardInterrupt, ExternalShutdownException):   # Ctrl-C (rclpy's handler may end the context)
        print("demo: interrupted", file=sys.stderr)
        ok = False
    finally:
        codes = harness.stop_all(children, signal.SIGTERM)
        if recorder is not None:
            records, diagnostics = recorder.records, recorder.diagnostics
            recorder.close()
    text, figures = summarise(records, diagnostics, args.duration)
    print(text)
    png = plot(records, out / "demo.png")
    print(f"  plot                    : {png}")
    stray = harness.stray(children)
    stale = harness.stale_segments(segments)
    print(f"  shutdown                : exit codes {codes}, stray processes {len(stray)}, "
          f"stale /dev/shm participant segments {len(stale)} (of {len(segments)} the nodes used)"
          f"{' ' + str(stale) if stale else ''}")
    ok = ok and figures["tracks"] == args.vehicles and not stray and not stale and all(c == 0 for c in codes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

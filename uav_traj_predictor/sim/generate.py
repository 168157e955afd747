"""`uav-traj generate`: simulate flights and write them as TUM files or rosbag2 bags + a dataset card.

    uav-traj generate --flights 100 --duration 60 --out data/sim [--format tum|bag] [--seed 0]
                      [--families vector racing ...] [--noise mocap|vio|gnss|none] [--rate HZ]
                      [--bag-version 9|8] [--storage mcap|sqlite3]

TUM: one `<name>.txt` per flight, `timestamp tx ty tz qx qy qz qw` (seconds from 0, ENU metres).
bag: one rosbag2 folder `<name>/` per flight, written by the package's bag writer (bags/writer.py;
default mcap, metadata v9; `--bag-version 8 --storage sqlite3` for Humble), topic /odom,
nav_msgs/msg/Odometry with frame_id "odom", child_frame_id "base_link", the twist in the body frame
(REP 105), stamps from 2023-11-14T22:13:20Z (1.7e9 s) + t, the writer's explicit offered QoS.
`dataset_card.json` records the arguments, seed, package version, and per flight its file, family,
drawn parameters and speed/acceleration statistics.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from uav_traj_predictor import __version__

from .generator import MIN_PHYSICS_RATE, SimulatedFlight, simulate_flights
from .noise import NOISE_MODELS
from .references import FAMILIES

BAG_EPOCH_S = 1_700_000_000
ODOM_TOPIC = "/odom"
CARD_NAME = "dataset_card.json"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uav-traj generate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flights", type=_positive_int, required=True, help="number of flights")
    parser.add_argument("--duration", type=_positive_float, required=True, help="seconds per flight")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; must be empty unless --force)")
    parser.add_argument("--format", choices=["tum", "bag"], default="tum", help="output format (default tum)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--families", nargs="+", default=None, metavar="FAMILY",
                        help=f"reference families, space or comma separated (default all: {', '.join(FAMILIES)})")
    parser.add_argument("--noise", choices=list(NOISE_MODELS), default="mocap", help="odometry noise model")
    parser.add_argument("--rate", type=_positive_float, default=None,
                        help="output rate in Hz (default: the noise model's typical rate: "
                             + ", ".join(f"{k} {m.rate:g}" for k, m in NOISE_MODELS.items()) + ")")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder, replacing files")
    from ..bags.writer import add_format_options
    add_format_options(parser)
    return parser


def _parse(argv) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.families is not None:
        args.families = [name for item in args.families for name in item.split(",") if name]
        unknown = [name for name in args.families if name not in FAMILIES]
        if unknown or not args.families:
            parser.error(f"unknown family {', '.join(unknown) or '(none given)'}; choose from {', '.join(FAMILIES)}")
    if args.rate is None:
        args.rate = NOISE_MODELS[args.noise].rate
    if not 0.5 <= args.rate <= 1000:
        parser.error(f"--rate must be within 0.5..1000 Hz, got {args.rate:g}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")
    if args.out.is_dir() and any(args.out.iterdir()) and not args.force:
        parser.error(f"--out {args.out} is not empty (use --force to write into it)")
    return args


# ------------------------------------------------------------------------------------------ writers
def write_tum(path: Path, t: np.ndarray, p: np.ndarray, q: np.ndarray) -> None:
    """TUM trajectory text: `timestamp tx ty tz qx qy qz qw`, one sample per line."""
    table = np.column_stack([t, p, q])
    np.savetxt(path, table, fmt=["%.6f"] + ["%.6f"] * 3 + ["%.7f"] * 4,
               header="timestamp tx ty tz qx qy qz qw  (uav_traj_predictor.sim, ENU metres)")


def write_bag(path: Path, flight, fmt=None) -> None:
    """One rosbag2 folder with the flight as nav_msgs/msg/Odometry on /odom (bags/writer.py)."""
    from ..bags.writer import BagWriter, write_odometry
    with BagWriter(path, fmt) as writer:
        write_odometry(writer, ODOM_TOPIC, flight.t, flight.p, flight.q, flight.v, frame_id="odom",
                       epoch_s=BAG_EPOCH_S, where=flight.name)


# ------------------------------------------------------------------------------------------ card
def flight_stats(t: np.ndarray, v: np.ndarray) -> dict:
    """Speed and acceleration summary of one flight (from its velocity samples)."""
    speed = np.linalg.norm(v, axis=1)
    accel = np.linalg.norm(np.gradient(v, t, axis=0), axis=1) if len(t) > 2 else np.zeros(1)
    return dict(samples=int(len(t)), duration_s=float(t[-1] - t[0]) if len(t) else 0.0,
                speed_mean=float(speed.mean()), speed_p95=float(np.percentile(speed, 95)), speed_max=float(speed.max()),
                accel_p95=float(np.percentile(accel, 95)))


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def dataset_card(args, entries: list[dict]) -> dict:
    substeps = max(1, int(np.ceil(MIN_PHYSICS_RATE / args.rate - 1e-9)))
    return _jsonable(dict(
        generator="uav_traj_predictor.sim", version=__version__, command="uav-traj generate",
        arguments=dict(flights=args.flights, duration_s=args.duration, seed=args.seed, format=args.format,
                       families=args.families or list(FAMILIES), noise=args.noise, rate_hz=args.rate,
                       **(dict(bag_version=args.bag_version, storage=args.storage) if args.format == "bag" else {})),
        physics_rate_hz=args.rate * substeps, frame="ENU world, metres", time="seconds from flight start",
        families={name: FAMILIES[name].description for name in (args.families or FAMILIES)},
        noise_model=vars(NOISE_MODELS[args.noise]),
        flights=entries))


def _write_flight(out: Path, args, sim: SimulatedFlight) -> str:
    f = sim.flight
    if args.format == "tum":
        target = out / f"{f.name}.txt"
        write_tum(target, f.t, f.p, f.q)
    else:
        from ..bags.writer import format_from_args
        target = out / f.name
        if target.exists():
            shutil.rmtree(target)
        write_bag(target, f, format_from_args(args))
    return target.name


def main(argv=None) -> int:
    """Entry point of `uav-traj generate`; returns the exit status."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    entries = []
    with tqdm(total=2 * args.flights, desc="simulate+write", unit="flight", file=sys.stderr) as bar:
        sims = simulate_flights(args.flights, args.duration, seed=args.seed, families=args.families,
                                rate=args.rate, noise=args.noise, progress=bar.update)
        for sim in sims:
            file_name = _write_flight(args.out, args, sim)
            entries.append(dict(name=sim.flight.name, file=file_name, family=sim.family,
                                stats=flight_stats(sim.flight.t, sim.flight.v), parameters=sim.info))
            bar.update(1)
    (args.out / CARD_NAME).write_text(json.dumps(dataset_card(args, entries), indent=1) + "\n")
    print(f"wrote {args.flights} flights ({args.format}) and {CARD_NAME} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

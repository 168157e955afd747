"""`uav-traj datagen run|check`: fly random references on the embedded simulator or PX4, or check the setup.

    uav-traj datagen run --backend sim --config config/datagen.yaml [--out DIR] [--trajectories N] [--seed K]
    uav-traj datagen run --backend px4 --config config/datagen.yaml [--url udpin://0.0.0.0:14540]
    uav-traj datagen check [--px4-dir PATH]

`run` exits 0 when every trajectory was flown and the vehicle landed, 1 when some were skipped or the
run failed, 2 on bad arguments / configuration. `check` exits 1 when anything is missing.
"""
from __future__ import annotations

import argparse
import logging
import sys

from .config import ConfigError, load_config
from .preflight import format_checks, run_checks


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uav-traj datagen", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fly random references and record ground truth (bag, TUM, card)")
    run.add_argument("--backend", choices=("sim", "px4"), default="sim",
                     help="sim: embedded simulator in process; px4: PX4 through MAVSDK offboard")
    run.add_argument("--config", help="datagen YAML (default: built-in defaults, see config/datagen.yaml)")
    run.add_argument("--out", help="output directory (default: out_dir from the config); must not hold a bag")
    run.add_argument("--trajectories", type=int, help="number of trajectories (overrides the config)")
    run.add_argument("--seed", type=int, help="seed of the references (overrides the config)")
    run.add_argument("--url", help="MAVSDK connection URL for --backend px4 (overrides px4.url)")
    run.add_argument("-v", "--verbose", action="store_true", help="log every state transition")
    check = sub.add_parser("check", help="preflight of the PX4/Gazebo path: reports what is missing")
    check.add_argument("--px4-dir", help="PX4-Autopilot checkout (default: $PX4_DIR)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        checks = run_checks(args.px4_dir)
        print(format_checks(checks))
        return 0 if all(c.ok for c in checks) else 1
    return _run(args)


def _run(args) -> int:
    from .run import format_summary, make_backend, run_datagen
    from .backend import BackendError
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        config = load_config(args.config, trajectories=args.trajectories, seed=args.seed)
        if args.url:
            config = config.replace(px4=dict(config.px4, url=args.url))
        backend = make_backend(args.backend, config)
    except (ConfigError, ValueError, BackendError) as err:
        print(f"uav-traj datagen: {err}", file=sys.stderr)
        return 2
    try:
        output = run_datagen(config, backend, args.out, backend_name=args.backend)
    except FileExistsError as err:
        print(f"uav-traj datagen: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("uav-traj datagen: interrupted; landed if airborne, bag and card.yaml closed", file=sys.stderr)
        return 130
    print(format_summary(output))
    result = output.result
    return 0 if result.final_state.value == "DONE" and not result.skipped else 1

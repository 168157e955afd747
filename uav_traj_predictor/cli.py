"""`uav-traj <subcommand>`: thin argument dispatch over the package's rooms.

Each subcommand lives in its room as `main(argv) -> int`; it is imported only when called so that
`uav-traj --help` stays fast and a missing optional dependency only affects its own subcommand.
"""
import importlib
import sys

SUBCOMMANDS = {
    "generate": ("uav_traj_predictor.sim.generate", "generate synthetic flights with the embedded simulator"),
    "train": ("uav_traj_predictor.train.cli", "train the streaming velocity GRU"),
    "evaluate": ("uav_traj_predictor.evaluate.cli", "evaluate the model and baselines on flight files"),
    "bag": ("uav_traj_predictor.bags.cli", "rosbag2 tools: from-flight, play, record, eval"),
    "datagen": ("uav_traj_predictor.datagen.cli", "PX4/Gazebo or embedded-simulator data generation"),
    "demo": ("uav_traj_predictor.demo", "run the live demo: sim_node + predictor_node on loopback DDS"),
}


def usage() -> str:
    lines = ["usage: uav-traj <subcommand> [options]", "", "subcommands:"]
    lines += [f"  {name:<10} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += ["", "Run `uav-traj <subcommand> --help` for the options of one."]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"uav-traj: unknown subcommand '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""`uav-traj bag <command>`: rosbag2 tools without ROS 2's own CLI (see docs/bags.md).

  from-flight FLIGHT... --out BAG   flight files -> nav_msgs/Odometry bag (mcap, metadata v9; Humble:
                                    --bag-version 8 --storage sqlite3); --type pose_covariance | point |
                                    targets (all flights as targets of one TargetArray topic)
  play BAG                          replay onto live topics, original timing, raw CDR, optional /clock
  record TOPIC... --out BAG         record live topics raw (incl. PredictedTrajectory)
  eval BAG --json OUT.json          predictor core + baselines over the bag's odometry / poses / points /
                                    targets, or score the predictions recorded in it, with the evaluation
                                    protocol
  info BAG                          topics, counts, QoS; damage and what is still readable
  repair BAG --out FIXED            copy the readable messages of a damaged bag into a new bag

Errors (missing or damaged bags, bad options) end with a one-line message and exit status 2.
"""
from __future__ import annotations

import argparse
import sys

from .writer import MESSAGE_KINDS, add_format_options, format_from_args

ERROR_STATUS = 2


class CommandError(Exception):
    """A user-facing failure of a bag command (printed as one line, exit status 2)."""


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="uav-traj bag", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[1])
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    conv = sub.add_parser("from-flight", help="flight files -> Odometry bag")
    conv.add_argument("flights", nargs="+", metavar="FLIGHT", help="flight files in any format data.read_flight reads")
    conv.add_argument("--out", required=True, metavar="BAG", help="new bag directory")
    conv.add_argument("--topic", help="topic (default /odom; several flights: /<flight stem><topic> each; "
                                      "--type targets: the one TargetArray topic, default /targets)")
    add_format_options(conv)
    conv.add_argument("--frame", default="map", help="header.frame_id (world frame)")
    conv.add_argument("--type", dest="kind", choices=tuple(MESSAGE_KINDS), default="odometry",
                      help="message type: odometry (default), pose_covariance (PoseWithCovarianceStamped), point "
                           "(PointStamped), targets (every flight a target of one uav_traj_predictor/TargetArray "
                           "topic, id = file stem)")
    conv.add_argument("--sigma", type=float, metavar="M",
                      help="position std the covariances state (pose_covariance: default 0 = unknown; targets: "
                           "default none)")

    play = sub.add_parser("play", help="replay a bag onto live topics")
    play.add_argument("bag", metavar="BAG")
    play.add_argument("--rate", type=float, default=1.0, help="replay speed factor")
    play.add_argument("--loop", action="store_true", help="start again at the end, until interrupted")
    play.add_argument("--start-offset", type=float, default=0.0, metavar="S", help="skip the first S seconds")
    play.add_argument("--remap", nargs="+", default=[], metavar="FROM:=TO", help="publish a topic under another name")
    play.add_argument("--clock", nargs="?", type=float, const=100.0, default=0.0, metavar="HZ",
                      help="publish /clock with the bag time at HZ (default 100 when given)")
    play.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these bag topics")
    play.add_argument("--wait-for-subscribers", type=int, default=0, metavar="N",
                      help="start once every topic has N subscribers")
    play.add_argument("--wait-timeout", type=float, default=10.0, metavar="S")
    play.add_argument("--delay", type=float, default=0.0, metavar="S", help="wait S seconds before playing")
    play.add_argument("--salvage", action="store_true", help="play the readable part of a damaged bag")

    rec = sub.add_parser("record", help="record live topics into a bag")
    rec.add_argument("topics", nargs="+", metavar="TOPIC")
    rec.add_argument("--out", required=True, metavar="BAG", help="new bag directory")
    rec.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    add_format_options(rec)

    ev = sub.add_parser("eval", help="evaluate the predictor (and baselines) on a bag")
    ev.add_argument("bag", metavar="BAG")
    ev.add_argument("--json", required=True, metavar="OUT.json", help="write the report here")
    ev.add_argument("--odom-topic", nargs="+", metavar="T",
                    help="input topics: Odometry, PoseStamped, PoseWithCovarianceStamped, PointStamped (one track "
                         "each) or TargetArray (one track per target id) (default: every Odometry topic, else every "
                         "topic of those types)")
    ev.add_argument("--checkpoint", help="model checkpoint (default: the package's default checkpoint)")
    ev.add_argument("--vector", metavar="DIR", help="add every VECTOR velocity checkpoint (*.pth) in DIR")
    ev.add_argument("--methods", nargs="+", metavar="NAME",
                    help="methods: model, cv, ca, kf, vector:* (default: all available)")
    ev.add_argument("--predictions-topic", nargs="+", metavar="T",
                    help="also score the PredictedTrajectory or PredictedTrajectoryArray messages recorded on T "
                         "(method 'recorded'; several topics for several vehicles)")
    ev.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR")
    ev.add_argument("--velocity-source", choices=("pose", "twist"), default="pose",
                    help="the model's input velocities: pose differences, or the Odometry twist (rotated to the world)")
    ev.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ev.add_argument("--perturb", default="none", metavar="SPEC",
                    help="see every odometry topic through a measurement model first, e.g. 'rate=20,noise=0.01' "
                         "(as uav-traj evaluate --perturb; docs/evaluation.md)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the perturbation")

    info = sub.add_parser("info", help="topics, counts and damage of a bag")
    info.add_argument("bag", metavar="BAG")

    fix = sub.add_parser("repair", help="copy the readable messages of a damaged bag into a new bag")
    fix.add_argument("bag", metavar="BAG")
    fix.add_argument("--out", required=True, metavar="FIXED")
    add_format_options(fix)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from .storage import BagError
    try:
        return COMMANDS[args.command](args)
    except (CommandError, BagError, ValueError, OSError, LookupError, TimeoutError) as err:
        print(f"uav-traj bag {args.command}: error: {err}", file=sys.stderr)
        return ERROR_STATUS


def cmd_from_flight(args) -> int:
    from ..data import FlightFormatError, read_flight
    from .from_flight import write_flights_bag
    try:
        flights = [read_flight(path) for path in args.flights]
    except FlightFormatError as err:
        raise CommandError(str(err)) from None
    for flight in flights:
        if flight.report.total_dropped:
            print(f"note: {flight.source}: dropped {flight.report.dropped}", file=sys.stderr)
    fmt = format_from_args(args)
    topic = args.topic or ("/targets" if args.kind == "targets" else "/odom")
    written = write_flights_bag(flights, args.out, topic=topic, fmt=fmt, frame_id=args.frame, kind=args.kind,
                                sigma=args.sigma)
    for item in written:
        print(f"{item.flight}: {item.messages} messages on {item.topic}")
    print(f"bag: {args.out} ({fmt.describe()})")
    return 0


def cmd_play(args) -> int:
    from .play import PlayOptions, parse_remaps, play_bag
    options = PlayOptions(rate=args.rate, loop=args.loop, start_offset=args.start_offset,
                          remap=parse_remaps(args.remap), topics=args.topics, clock_hz=args.clock,
                          wait_for_subscribers=args.wait_for_subscribers, wait_timeout=args.wait_timeout,
                          delay=args.delay)
    stats = play_bag(args.bag, options, salvage=args.salvage)
    late = stats.lateness_percentiles()
    timing = ", ".join(f"{k} {v:.2f} ms" for k, v in late.items()) if late else "nothing played"
    print(f"played {stats.total} messages in {stats.wall_seconds:.2f} s ({stats.loops} pass(es)"
          f"{', interrupted' if stats.stopped else ''}); lateness {timing}")
    for topic, count in sorted(stats.published.items()):
        print(f"  {topic}: {count}")
    if stats.unacknowledged:
        print(f"warning: reliable subscribers did not acknowledge every message on {', '.join(stats.unacknowledged)}",
              file=sys.stderr)
    return 0


def cmd_record(args) -> int:
    from .record import print_summary, record_topics
    stats = record_topics(args.topics, args.out, duration=args.duration, fmt=format_from_args(args))
    print_summary(stats, args.out)
    return 0


def cmd_eval(args) -> int:
    import torch

    from ..data.perturb import Perturbation
    from ..evaluate import Protocol
    from ..evaluate.methods import MethodUnavailable
    from .replay_eval import evaluate_bag
    torch.set_num_threads(max(1, args.threads))
    notes: list[str] = []
    examples = {} if args.plots else None
    try:
        report = evaluate_bag(args.bag, odom_topics=args.odom_topic, checkpoint=args.checkpoint,
                              vector_dir=args.vector, methods=args.methods,
                              predictions_topic=args.predictions_topic, notes=notes, examples=examples,
                              protocol=Protocol(velocity_source=args.velocity_source),
                              perturbation=Perturbation.parse(args.perturb), seed=args.seed)
    except MethodUnavailable as err:
        raise CommandError(str(err)) from None
    from ..evaluate.report import format_report, save_report
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(format_report(report))
    save_report(report, examples, args.json, args.plots)
    return 0


def cmd_info(args) -> int:
    from .storage import open_bag
    bag = open_bag(args.bag)
    print(f"bag: {bag.path}\nmessages: {bag.message_count}\n"
          f"duration: {(bag.end_ns - bag.start_ns) / 1e9:.3f} s (from {bag.start_ns / 1e9:.9f})")
    for name, topic in sorted(bag.topics.items()):
        qos = topic.qos[0] if topic.qos else None
        offered = f"{qos.reliability.name.lower()}/{qos.durability.name.lower()}" if qos else "no QoS recorded"
        print(f"  {name} [{topic.msgtype}]: {topic.count} ({offered})")
    for note in bag.notes:
        print(f"note: {note}")
    read = sum(1 for _ in bag.messages())
    print(f"readable: {read} of {bag.message_count} messages")
    return 0


def cmd_repair(args) -> int:
    from .repair import repair_bag
    kept = repair_bag(args.bag, args.out, fmt=format_from_args(args))
    print(f"repaired: {sum(kept.values())} messages into {args.out}")
    for topic, count in sorted(kept.items()):
        print(f"  {topic}: {count}")
    return 0


COMMANDS = {"from-flight": cmd_from_flight, "play": cmd_play, "record": cmd_record, "eval": cmd_eval,
            "info": cmd_info, "repair": cmd_repair}


if __name__ == "__main__":
    sys.exit(main())

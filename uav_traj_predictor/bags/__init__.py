"""bags room: `uav-traj bag from-flight/play/record/eval/info/repair` over rosbags + raw rclpy.

Public API (no rclpy import here; play/record import it when called):
    open_bag(path, salvage=False) -> Bag, BagError          reading, damage reported with readable counts
    write_flights_bag(flights, out, topic, fmt, frame_id)   data.Flight -> Odometry bag (bags.writer.BagFormat)
    bags.writer.BagWriter(out, BagFormat(version, storage))  the one bag writer (metadata v9 or v8, mcap/sqlite3)
    evaluate_bag(path, ...) -> report dict                    evaluation protocol over a bag (docs/bags.md)
    bags.play.play_bag(path, PlayOptions) / bags.record.record_topics(topics, out, ...)
"""
from .from_flight import write_flights_bag
from .replay_eval import evaluate_bag
from .storage import Bag, BagError, open_bag

__all__ = ["Bag", "BagError", "evaluate_bag", "open_bag", "write_flights_bag"]

"""`uav-traj bag repair`: copy what is still readable of a damaged bag into a new, valid bag."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from rosbags.rosbag2 import Writer

from .from_flight import STORAGES
from .storage import BagError, open_bag
from .types import UnknownMessageType, default_qos, require_type


def repair_bag(path, out, storage: str = "mcap") -> Counter:
    """Write the readable messages of `path` (salvaged when damaged) to the new bag `out`.

    Topics of types unknown to the typestore cannot be described in the new bag and are left out
    (BagError when nothing remains). Returns messages written per topic.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; rosbag2 writes a new directory")
    bag = open_bag(path, salvage=True)
    known = {}
    for name, topic in bag.topics.items():
        try:
            known[name] = (topic, require_type(topic.msgtype))
        except UnknownMessageType:
            continue
    if not known:
        raise BagError(f"{path}: nothing readable to repair ({'; '.join(bag.notes) or 'no messages'})")
    kept = Counter()
    with Writer(out, version=9, storage_plugin=STORAGES[storage]) as writer:
        connections = {name: writer.add_connection(name, topic.msgtype, typestore=store,
                                                   offered_qos_profiles=topic.qos or [default_qos()])
                       for name, (topic, store) in known.items()}
        try:
            for message in bag.messages(list(known)):
                writer.write(connections[message.topic], message.timestamp, message.data)
                kept[message.topic] += 1
        except BagError:   # damage found while reading: keep everything before it
            pass
    return kept

"""`uav-traj bag repair`: copy what is still readable of a damaged bag into a new, valid bag."""
from __future__ import annotations

from collections import Counter

from .storage import BagError, open_bag
from .types import UnknownMessageType, require_type
from .writer import BagFormat, BagWriter


def repair_bag(path, out, fmt: BagFormat | None = None) -> Counter:
    """Write the readable messages of `path` (salvaged when damaged) to the new bag `out`.

    Topics of types unknown to the typestore cannot be described in the new bag and are left out
    (BagError when nothing remains). Returns messages written per topic.
    """
    writer = BagWriter(out, fmt)            # refuses an existing directory before reading anything
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
    with writer:
        connections = {name: writer.topic(name, topic.msgtype, qos=topic.qos, store=store)
                       for name, (topic, store) in known.items()}
        try:
            for message in bag.messages(list(known)):
                writer.write(connections[message.topic], message.timestamp, message.data)
                kept[message.topic] += 1
        except BagError:   # damage found while reading: keep everything before it
            pass
    return kept

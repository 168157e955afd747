"""Which of several predictor instances predicts a track: a stable hash of the track id.

`shard_of(track_id, shard_count)` is CRC-32 of the id's UTF-8 bytes modulo the count: the same on every
host, process and Python version (Python's own `hash()` of a str is salted per process), so instances
started with the same `shard_count` and different `shard_index` split any set of ids between them
without talking to each other, every id to exactly one of them. Spread over typical id sets
("t0".."t999", "0".."999", "uav1"...): 500/500 for 2 shards, 250 each for 4 (test_core_tracks.py).
"""
from __future__ import annotations

import zlib


def shard_of(track_id: str, shard_count: int) -> int:
    """Index (0..shard_count-1) of the shard that owns `track_id`."""
    return zlib.crc32(track_id.encode("utf-8", "surrogatepass")) % shard_count

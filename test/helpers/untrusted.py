"""Files from outside for the untrusted-file tests: good and hostile checkpoints, a flight, the check that
a failure is a clear one-line error."""
import pickle
from pathlib import Path

import numpy as np
import torch

from helpers.checkpoints import TINY, random_checkpoint


class Opaque:
    """A user object: a checkpoint carrying it must be refused (weights_only)."""


class MarkerPayload:
    """Unpickling this creates a marker file: proof that loading executed code from the file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_tum(path: Path, seconds=12.0, rate=50.0) -> Path:
    t = np.arange(0.0, seconds, 1.0 / rate)
    p = np.column_stack([np.sin(0.5 * t), np.cos(0.5 * t), 0.1 * t])
    rows = np.column_stack([t, p, np.zeros((len(t), 3)), np.ones(len(t))])
    np.savetxt(path, rows, fmt="%.6f")
    return path


def untrusted_files(folder: Path) -> dict:
    """Good and bad checkpoints in `folder`, a marker path (created only if loading ran pickled code), a
    good flight: {"folder", "good", "marker", "bad": {kind: path}, "flight"}."""
    good = random_checkpoint(folder / "good.pt", model_id="untrusted-test", **TINY)
    marker = folder / "MARKER_CREATED_BY_PICKLE"
    bad = {}
    torch.save({"format": "uav_traj_predictor.velocity_gru", "format_version": 1, "state_dict": {},
                "meta": {"model_id": "x"}, "extra": Opaque()}, folder / "custom_class.pt")
    bad["custom_class"] = folder / "custom_class.pt"
    (folder / "reduce_raw.pt").write_bytes(pickle.dumps({"format": "x", "payload": MarkerPayload(marker)}))
    bad["reduce_raw_pickle"] = folder / "reduce_raw.pt"
    torch.save({"format": "x", "payload": MarkerPayload(marker)}, folder / "reduce_torch.pt")
    bad["reduce_torch_zip"] = folder / "reduce_torch.pt"
    assert not marker.exists(), "the test itself must not create the marker"
    data = good.read_bytes()
    (folder / "truncated.pt").write_bytes(data[: len(data) // 2])
    bad["truncated"] = folder / "truncated.pt"
    (folder / "garbage.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    bad["garbage"] = folder / "garbage.pt"
    (folder / "empty.pt").write_bytes(b"")
    bad["empty"] = folder / "empty.pt"
    payload = torch.load(good, weights_only=True)                  # mismatched: shapes of a bigger net
    payload["meta"]["architecture"]["hidden"] = 16
    torch.save(payload, folder / "mismatched.pt")
    bad["mismatched"] = folder / "mismatched.pt"
    payload = torch.load(good, weights_only=True)
    payload["state_dict"]["head.0.weight"] = torch.full_like(payload["state_dict"]["head.0.weight"], float("nan"))
    torch.save(payload, folder / "nan_weights.pt")
    bad["nan_weights"] = folder / "nan_weights.pt"
    return {"folder": folder, "good": good, "marker": marker, "bad": bad,
            "flight": write_tum(folder / "flight.txt")}


def assert_clear_failure(code, stderr, *needles):
    assert code not in (0, None), f"exit status {code}; stderr: {stderr}"
    assert "Traceback" not in stderr, f"a traceback instead of a clear message:\n{stderr}"
    assert stderr.strip(), "no message at all"
    for needle in needles:
        assert needle in stderr, f"{needle!r} not in the message: {stderr}"

"""Checkpoints: a plain dict of tensors, strings and numbers (no pickled objects) with all metadata.

Layout (format 1):
    {"format": "uav_traj_predictor.velocity_gru", "format_version": 1,
     "state_dict": {name: tensor}, "meta": {...}}
`meta` holds: model_id, rate, dt, min_history, horizon_steps, architecture (dict), normalisation
(velocity_scale, accel_scale, residual_scale[, noise]), std_calibration, speed_calibration, cv_std,
training (data description, config, command, seed), metrics, created. `load_checkpoint` refuses anything
else with a `CheckpointError`.
"""
from __future__ import annotations

import math
import pickle
import sys
import zipfile
from pathlib import Path

import torch

from .network import Architecture, VelocityGRU

FORMAT = "uav_traj_predictor.velocity_gru"
FORMAT_VERSION = 1
PACKAGE = "uav_traj_predictor"
DEFAULT_CHECKPOINT = "default.pt"
REQUIRED_META = ("model_id", "rate", "dt", "min_history", "horizon_steps", "architecture", "cv_std",
                 "training", "metrics")


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not match this code; the message names the file."""


# Every checkpoint shipped in models/ (installed to share/uav_traj_predictor/models/), in the order they are
# preferred: the 1 s default first, then the 3 s one (docs/model.md). `shipped_checkpoint_for(steps)` picks the
# first whose horizon covers the steps asked for.
SHIPPED_CHECKPOINTS = (DEFAULT_CHECKPOINT, "horizon3s.pt")


def default_checkpoint_path(name: str = DEFAULT_CHECKPOINT) -> Path:
    """A shipped checkpoint (default: the default one): installed share dir (ament index, then sys.prefix),
    else source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory(PACKAGE)) / "models" / name)
    except Exception:  # not installed through ament / ament_index missing: try the other places
        pass
    candidates.append(Path(sys.prefix) / "share" / PACKAGE / "models" / name)
    candidates.append(Path(__file__).resolve().parents[2] / "models" / name)
    for path in candidates:
        if path.is_file():
            return path
    return candidates[-1]


def shipped_checkpoint_for(horizon_steps: int | None = None) -> Path:
    """The shipped checkpoint that predicts at least `horizon_steps` grid steps: the first of
    SHIPPED_CHECKPOINTS whose metadata's horizon covers it (None or 0: the default checkpoint, which is
    returned without being read). CheckpointError naming what is shipped when none covers it."""
    if not horizon_steps:
        return default_checkpoint_path()
    found = []
    for name in SHIPPED_CHECKPOINTS:
        path = default_checkpoint_path(name)
        if not path.is_file():
            continue
        steps = int(_read(path)["meta"]["horizon_steps"])
        if steps >= horizon_steps:
            return path
        found.append(f"{name}: {steps} steps")
    raise CheckpointError(f"no shipped checkpoint predicts {horizon_steps} steps (shipped: "
                          f"{', '.join(found) or 'none found'}); train one (docs/model.md) and pass it as checkpoint")


def save_checkpoint(path, model: VelocityGRU, meta: dict) -> Path:
    """Write `model` and `meta` (plain values only) to `path`; the model's buffers are mirrored in meta."""
    path = Path(path)
    meta = dict(meta)
    meta["architecture"] = model.arch.to_dict()
    meta["horizon_steps"] = model.arch.horizon_steps
    meta["normalisation"] = {"velocity_scale": model.velocity_scale.tolist(),
                             "accel_scale": model.accel_scale.tolist(),
                             "residual_scale": model.residual_scale.tolist()}
    if model.uses_noise:
        meta["normalisation"]["noise"] = dict(zip(("floor_m", "center_m", "width"), model.noise_norm.tolist()))
    meta["std_calibration"] = model.std_calibration.tolist()
    meta["speed_calibration"] = {"edges": model.speed_edges.tolist(), "factors": model.speed_calibration.tolist()}
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise CheckpointError(f"{path}: refusing to save without metadata {missing}")
    state = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "state_dict": state, "meta": meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def _unpickler_detail(error: Exception) -> str:
    """What torch's weights-only unpickler objected to, without its advice to load unsafely."""
    for line in str(error).splitlines():
        if "WeightsUnpickler error:" in line:
            detail = line.split("WeightsUnpickler error:", 1)[1].strip()
            return f": {detail.split(' was not an allowed global')[0]}" if detail else ""
    return ""


def _read(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):     # torch.save writes a zip archive; anything else is no checkpoint
        raise CheckpointError(f"{path}: not a checkpoint (no torch zip archive: a truncated, damaged or "
                              f"foreign file, {path.stat().st_size} bytes)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path}: refused, it carries objects other than tensors/strings/numbers "
                              f"(safe weights-only loading allows nothing else; not a checkpoint of this "
                              f"package){_unpickler_detail(error)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else 'no detail'})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (no 'format' key of that value)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {payload.get('format_version')!r}, "
                              f"this code reads {FORMAT_VERSION}")
    for key, kind in (("state_dict", dict), ("meta", dict)):
        if not isinstance(payload.get(key), kind):
            raise CheckpointError(f"{path}: missing or malformed '{key}'")
    missing = [key for key in REQUIRED_META if key not in payload["meta"]]
    if missing:
        raise CheckpointError(f"{path}: missing metadata {missing}")
    return payload


def _check_meta(path: Path, meta: dict, arch: Architecture) -> None:
    rate, dt = float(meta["rate"]), float(meta["dt"])
    if not (rate > 0 and math.isclose(dt, 1.0 / rate, rel_tol=1e-9)):
        raise CheckpointError(f"{path}: inconsistent grid rate {rate} Hz and dt {dt} s")
    if int(meta["horizon_steps"]) != arch.horizon_steps:
        raise CheckpointError(f"{path}: horizon_steps {meta['horizon_steps']} != architecture "
                              f"{arch.horizon_steps}")
    if int(meta["min_history"]) < 1:
        raise CheckpointError(f"{path}: min_history must be >= 1, got {meta['min_history']}")
    if len(meta["cv_std"]) != arch.horizon_steps:
        raise CheckpointError(f"{path}: cv_std has {len(meta['cv_std'])} entries, expected "
                              f"{arch.horizon_steps}")


def load_checkpoint(path=None):
    """Load a checkpoint -> (VelocityGRU in eval mode, meta dict). None loads the shipped default.

    Raises `CheckpointError` naming the file and the problem for missing, truncated or foreign files,
    pickled objects, wrong keys or shapes, and missing or inconsistent metadata.
    """
    path = Path(path) if path is not None else default_checkpoint_path()
    payload = _read(path)
    meta = payload["meta"]
    try:
        arch = Architecture.from_dict(meta["architecture"])
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: malformed architecture metadata ({error})") from None
    _check_meta(path, meta, arch)
    model = VelocityGRU(arch)
    state = payload["state_dict"]
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: state_dict keys do not match the architecture "
                              f"(missing {missing}, unexpected {unexpected})")
    for key, tensor in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor) or value.shape != tensor.shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(f"{path}: '{key}' has shape {shape}, expected {tuple(tensor.shape)}")
        if not torch.isfinite(value).all():
            raise CheckpointError(f"{path}: '{key}' holds non-finite values")
    model.load_state_dict(state)
    model.eval()
    return model, meta

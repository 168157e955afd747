"""`uav-traj train`: generate (or read) flights, train the streaming velocity GRU, calibrate, save.

    uav-traj train --config config/train_default.yaml [--out DIR] [--init CKPT] [--data DIR...]
                   [--epochs N] [--seed K]
    torchrun --nproc_per_node 2 -m uav_traj_predictor.train.cli --config ...   # DDP (gloo on CPU, nccl on GPU)

The checkpoint carries the config, the data description, the command and the metrics at save time.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml

from ..data import FlightFormatError
from ..model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from . import datasets
from .config import ConfigError, validate
from .trainer import calibrate, fit, model_id, predict_flights, summarise

REQUIRED = ("seed", "rate", "horizon_steps", "min_history", "model", "data", "optim")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="uav-traj train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="training YAML (config/train_default.yaml)")
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default runs/train)")
    parser.add_argument("--name", default="model", help="checkpoint file stem (default model)")
    parser.add_argument("--init", type=Path, help="fine-tune from this checkpoint")
    parser.add_argument("--data", type=Path, nargs="+", help="train on these flight files/folders instead of "
                                                              "generating flights")
    parser.add_argument("--epochs", type=int, help="override optim.epochs")
    parser.add_argument("--seed", type=int, help="override seed")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process (default: config or 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def load_config(path: Path, args) -> dict:
    """Read the YAML config, apply command-line overrides and validate it (train/config.py); clear error
    on missing sections (SystemExit) or on a wrong value or unknown key (ConfigError naming the key)."""
    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SystemExit(f"uav-traj train: cannot read config {path}: {error}")
    missing = [key for key in REQUIRED if not isinstance(cfg, dict) or key not in cfg]
    if missing:
        raise SystemExit(f"uav-traj train: config {path} lacks {missing}")
    if args.epochs is not None:
        cfg["optim"]["epochs"] = args.epochs
    if args.seed is not None:
        cfg["seed"] = args.seed
    return validate(cfg)


def build_sets(cfg: dict, data_paths):
    """(train, validation, calibration) flight sets, split by flight. With recorded flights (`data_paths`) and
    `data.files.sources_scale`, that share of the config's simulated sources joins them: validation is recorded
    flights (what is tuned for), calibration simulated ones (as the simulation-only checkpoint's: a handful of
    recorded flights are too few to calibrate the std on), training the rest of both."""
    data = cfg["data"]
    val_fraction, calib_fraction = data.get("val_fraction", 0.1), data.get("calib_fraction", 0.1)
    if data_paths:
        files = data.get("files", {})          # how recorded flights are seen: {sensors, copies} (default: as recorded)
        everything = datasets.from_files(data_paths, cfg["rate"], files.get("sensors", "none"),
                                         int(files.get("copies", 1)), cfg["seed"])
        if files.get("sources_scale"):
            simulated = datasets.mixture(data, cfg["seed"], cfg["rate"], files["sources_scale"])
            recorded, val = datasets.split_flights(everything, val_fraction, cfg["seed"] + 2)
            simulated, calib = datasets.split_flights(simulated, calib_fraction, cfg["seed"] + 1)
            return (datasets.combine([simulated, recorded]), val, calib,
                    {"parts": [simulated.description, everything.description]})
    else:
        everything = datasets.mixture(data, cfg["seed"], cfg["rate"])
    rest, calib = datasets.split_flights(everything, calib_fraction, cfg["seed"] + 1)
    train, val = datasets.split_flights(rest, val_fraction, cfg["seed"] + 2)
    return train, val, calib, everything.description


def setup_distributed() -> tuple[int, int]:
    """Join the torchrun process group when WORLD_SIZE > 1 (nccl with CUDA, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cfg = load_config(args.config, args)
        init = load_checkpoint(args.init)[0] if args.init else None
    except ConfigError as error:
        print(f"uav-traj train: error: config {args.config}: {error}", file=sys.stderr)
        return 2
    except CheckpointError as error:
        print(f"uav-traj train: error: --init {error}", file=sys.stderr)
        return 2
    rank, world = setup_distributed()
    torch.set_num_threads(args.threads or cfg.get("threads", 1))
    np.random.seed(cfg["seed"])
    started = time.perf_counter()
    try:
        try:
            train, val, calib, description = build_sets(cfg, args.data)
        except (FlightFormatError, OSError, ValueError) as error:  # unreadable --data, sealed folder
            print(f"uav-traj train: error: training data: {error}", file=sys.stderr)
            return 2
        if rank == 0:
            print(f"data: {len(train.flights)} train / {len(val.flights)} val / {len(calib.flights)} calibration "
                  f"flights, {train.steps} training grid steps ({time.perf_counter() - started:.0f} s)")
        model, history = fit(cfg, train.flights, val.flights, init=init, progress=not args.quiet)
        dt = 1.0 / cfg["rate"]
        calib_metrics, cv_std = calibrate(model, calib.flights, dt, cfg["min_history"])
        val_metrics = summarise(*predict_flights(model, val.flights, dt, cfg["min_history"]))
        elapsed = time.perf_counter() - started
        meta = {
            "model_id": model_id(model), "rate": float(cfg["rate"]), "dt": dt,
            "min_history": int(cfg["min_history"]), "cv_std": cv_std, "seed": int(cfg["seed"]),
            "training": {"data": description, "config": json.loads(json.dumps(cfg)),
                         "command": "uav-traj train " + shlex.join(sys.argv[1:] if argv is None else argv),
                         "init": str(args.init) if args.init else "", "world_size": world,
                         "train_seconds": round(elapsed, 1), "epochs_run": len(history),
                         "flights": {"train": len(train.flights), "val": len(val.flights),
                                     "calibration": len(calib.flights)}},
            "metrics": {"validation": val_metrics, "calibration": calib_metrics, "history": history},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if rank == 0:
            path = save_checkpoint(args.out / f"{args.name}.pt", model, meta)
            (args.out / f"{args.name}.json").write_text(json.dumps(meta, indent=1))
            print(f"saved {path} ({meta['model_id']}): val ADE {val_metrics['ade']:.4f} m "
                  f"(CV {val_metrics['cv_ade']:.4f}), 1-sigma coverage {calib_metrics['coverage_1sigma']:.2f}, "
                  f"{elapsed:.0f} s")
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

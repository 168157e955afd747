"""Many-to-many training of the streaming velocity GRU, validation by flight, std calibration.

One GRU pass over a chunk of grid velocities yields a horizon prediction at every step; the loss
(mean 3D error of the residual to constant velocity, plus Gaussian NLL on the detached mean for the
log-std) covers every step with at least `loss_from` velocities of history.
"""
from __future__ import annotations

import copy
import hashlib
import math
import time

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from ..data.windows import window_indices
from ..evaluate.metrics import score_windows
from ..evaluate.metrics import summarise as summarise_windows
from ..model.network import Architecture, VelocityGRU, residual_targets, training_targets
from .datasets import ATTITUDE_SHARE, Augment, Chunks, TrainTrack, sample_chunks, synthetic_attitude

COVERAGE_1SIGMA = 0.6827
COVERAGE_2SIGMA = 0.9545


def sigma_quantile(z: np.ndarray, axis=None) -> np.ndarray:
    """The std scale that covers |error| / std = z at both Gaussian levels: the larger of the 68.27 %
    quantile of z and half its 95.45 % quantile (errors heavier-tailed than Gaussian get the wider std,
    so 1-sigma coverage is >= 68 % and 2-sigma >= 95 % on the calibration flights)."""
    return np.maximum(np.quantile(z, COVERAGE_1SIGMA, axis=axis), 0.5 * np.quantile(z, COVERAGE_2SIGMA, axis=axis))


def fit_normalisation(model: VelocityGRU, flights: list, dt: float) -> None:
    """Set velocity, acceleration and residual scales from training flights' exact positions (RMS; x and y
    share a scale)."""
    horizon = model.arch.horizon_steps
    flights = [f.truth if isinstance(f, TrainTrack) else np.asarray(f) for f in flights]
    velocities = np.concatenate([np.diff(f, axis=0) / dt for f in flights])
    horizontal = math.sqrt(float(np.mean(velocities[:, :2] ** 2)))
    vertical = max(math.sqrt(float(np.mean(velocities[:, 2] ** 2))), 0.1)
    model.velocity_scale.copy_(torch.tensor([horizontal, horizontal, vertical]))
    accel = np.concatenate([np.diff(f, n=2, axis=0) / dt ** 2 for f in flights])
    horizontal = math.sqrt(float(np.mean(accel[:, :2] ** 2)))
    vertical = max(math.sqrt(float(np.mean(accel[:, 2] ** 2))), 0.1)
    model.accel_scale.copy_(torch.tensor([horizontal, horizontal, vertical]))
    sums, count = np.zeros(horizon), 0
    for flight in flights:
        if len(flight) <= horizon + 1:
            continue
        _, residual = residual_targets(torch.from_numpy(flight[None]), horizon, dt)
        sums += (residual[0] ** 2).mean(dim=(0, 2)).numpy() * residual.shape[1]
        count += residual.shape[1]
    model.residual_scale.copy_(torch.from_numpy(np.maximum(np.sqrt(sums / max(count, 1)), 1e-3)).float())


def chunk_loss(model, chunk, dt: float, loss_from: int, nll_weight: float, relative_floor: float = 0.0,
               nll: str = "gaussian", dof: float = 4.0):
    """(loss, mean 3D error m) over every prediction with >= loss_from velocities in the chunk.

    `chunk`: `datasets.Chunks` (measured positions, exact positions, noise estimate) or a plain tensor of
    positions (B, T, 3) taken as exact. The mean is fitted to the exact future (the conditional mean of
    what a sensor will measure, with less variance); the log-std by Gaussian NLL of the detached mean
    against the measured future, so the std covers what the sensor will report. With `relative_floor` > 0
    each chunk's 3D error is divided by (its constant-velocity ADE + floor), normalised over the batch,
    so slow flights weigh as much as fast ones (relative improvement over CV). `nll` "student_t" takes the
    log-std's NLL under a Student-t of `dof` degrees of freedom with that scale instead of a Gaussian
    (heavy-tailed errors pull the scale less; the std reported is fitted afterwards by `calibrate` either way).
    """
    core = model.module if hasattr(model, "module") else model
    if not isinstance(chunk, Chunks):
        chunk = Chunks(chunk, chunk, torch.zeros(chunk.shape[:2], dtype=chunk.dtype))
    velocities, target, measured_target = training_targets(chunk.measured, chunk.truth, core.arch.horizon_steps, dt)
    noise = chunk.noise[:, 1:] if core.uses_noise else None
    interval = None
    if core.uses_interval and chunk.interval is not None:
        interval = torch.where(torch.isnan(chunk.interval), velocities, chunk.interval)
    attitude = chunk.attitude if core.uses_attitude else None
    residual, log_std = model(velocities, dt, noise=noise, interval=interval, attitude=attitude)
    count = target.shape[1]
    residual, log_std = residual[:, loss_from - 1:count], log_std[:, loss_from - 1:count]
    target, measured_target = target[:, loss_from - 1:], measured_target[:, loss_from - 1:]
    error = residual - target
    distance = error.norm(dim=-1).mean(dim=(1, 2))
    ade = distance.mean()
    if relative_floor > 0:
        weight = 1.0 / (target.norm(dim=-1).mean(dim=(1, 2)) + relative_floor)
        fit_term = (distance * weight / weight.mean()).mean()
    else:
        fit_term = ade
    z = (residual.detach() - measured_target) / log_std.exp()
    if nll == "student_t":
        negative_log_likelihood = (0.5 * (dof + 1.0) * torch.log1p(z ** 2 / dof) + log_std).mean()
    else:
        negative_log_likelihood = (0.5 * z ** 2 + log_std).mean()
    return fit_term + nll_weight * negative_log_likelihood, ade


@torch.no_grad()
def predict_flights(model: VelocityGRU, flights: list, dt: float, min_history: int):
    """Protocol windows (k >= min_history, k + H <= M - 1) of every track, scored against the measured
    future (what evaluation scores): (model errors (N, H, 3), calibrated model std (N, H, 3),
    constant-velocity errors (N, H, 3), current speed (N,))."""
    horizon = model.arch.horizon_steps
    errors, stds, cv_errors, speeds = [], [], [], []
    for flight in flights:
        track = flight if isinstance(flight, TrainTrack) else TrainTrack(flight, flight, np.zeros(len(flight)))
        windows = window_indices(len(track), min_history, horizon)
        if not len(windows):
            continue
        positions = torch.from_numpy(track.measured[None] - track.measured[0]).float()
        velocities, target = residual_targets(positions, horizon, dt)
        noise = torch.from_numpy(track.noise[None, 1:]) if model.uses_noise else None
        interval = torch.from_numpy(track.interval[None]).float() \
            if model.uses_interval and track.interval is not None else None
        attitude = None
        if model.uses_attitude:     # recorded, else synthesised (deterministic per track), as in training
            rng = np.random.default_rng(len(track))
            attitude = track.attitude if track.attitude is not None else \
                synthetic_attitude(track.truth[None] - track.truth[0], dt, rng)[0]
            attitude = torch.from_numpy(attitude[None] * float(rng.random() < ATTITUDE_SHARE)).float()
        residual, log_std = model(velocities, dt, noise=noise, interval=interval, attitude=attitude)
        rows = slice(int(windows[0]) - 1, int(windows[-1]))      # row r: the prediction made at grid index r + 1
        errors.append((residual[0, rows] - target[0, rows]).numpy())
        speed = velocities[0, rows].norm(dim=-1)
        stds.append((log_std[0, rows].exp() * model.std_scale(speed)[..., None]).numpy())
        speeds.append(speed.numpy())
        cv_errors.append(-target[0, rows].numpy())
    return np.concatenate(errors), np.concatenate(stds), np.concatenate(cv_errors), np.concatenate(speeds)


def summarise(errors, stds, cv_errors, speeds=None) -> dict:
    """The evaluation metrics (evaluate.metrics) of protocol windows, plus the constant-velocity ADE."""
    zero = np.zeros_like(errors)
    model = summarise_windows(score_windows(errors, zero, stds.astype(np.float64)))
    cv = summarise_windows(score_windows(cv_errors, zero))
    keys = ("windows", "ade", "fde", "coverage_1sigma", "coverage_2sigma", "nll")
    return {**{key: model[key] for key in keys}, "cv_ade": cv["ade"]}


def calibrate(model: VelocityGRU, flights: list[np.ndarray], dt: float, min_history: int) -> tuple[dict, list]:
    """Fit the std calibration so per-axis coverage is at least 68.27 % (1 sigma) and 95.45 % (2 sigma) on
    `flights` for every horizon step in every speed bin (`sigma_quantile` of |error| / std); returns
    (metrics, cv_std).

    cv_std (per step, metres) is the 68.27% quantile of constant-velocity per-axis errors: the std the
    predictor reports while it falls back to constant velocity.
    """
    model.std_calibration.fill_(1.0)
    model.speed_calibration.fill_(1.0)
    errors, raw_stds, cv_errors, speeds = predict_flights(model, flights, dt, min_history)
    z = np.abs(errors) / raw_stds
    speed_bin = np.searchsorted(model.speed_edges.numpy(), speeds, side="left")
    step_scale = sigma_quantile(z, axis=(0, 2))
    speed_scale = np.ones(tuple(model.speed_calibration.shape))
    for b in range(len(speed_scale)):
        if (speed_bin == b).sum() >= 50:   # sparse bins keep 1
            speed_scale[b] = sigma_quantile(z[speed_bin == b] / step_scale[None, :, None], axis=(0, 2))
    model.std_calibration.copy_(torch.from_numpy(step_scale).float())
    model.speed_calibration.copy_(torch.from_numpy(speed_scale).float())
    cv_std = np.quantile(np.abs(cv_errors), COVERAGE_1SIGMA, axis=(0, 2))
    stds = raw_stds * step_scale[None, :, None] * speed_scale[speed_bin][:, :, None]
    return summarise(errors, stds, cv_errors), [float(x) for x in cv_std]


def model_id(model: VelocityGRU) -> str:
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().numpy().tobytes())
    arch = model.arch
    return f"vgru-{arch.hidden}x{arch.layers}-h{arch.horizon_steps}-{digest.hexdigest()[:10]}"


def _rank_world():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def fit(cfg: dict, train_flights, val_flights, init: VelocityGRU | None = None, progress: bool = True):
    """Train a model with the config's optimisation section; returns (best model, history list).

    Under torch.distributed each rank samples its own chunks (seeded by rank) and gradients are averaged
    by DistributedDataParallel; validation runs identically on every rank, so early stopping agrees.
    """
    rank, world = _rank_world()
    dt = 1.0 / cfg["rate"]
    opt_cfg = cfg["optim"]
    torch.manual_seed(cfg["seed"])
    if init is None:
        model = VelocityGRU(Architecture.from_dict({**Architecture().to_dict(), **cfg["model"],
                                                    "horizon_steps": cfg["horizon_steps"]}))
        fit_normalisation(model, train_flights, dt)
    else:
        model = copy.deepcopy(init)
    model.train()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimiser = torch.optim.Adam(net.parameters(), lr=opt_cfg["lr"], weight_decay=opt_cfg.get("weight_decay", 0))
    epochs, steps = opt_cfg["epochs"], opt_cfg["steps_per_epoch"]
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=opt_cfg["lr"], total_steps=epochs * steps,
                                                   pct_start=0.05)
    rng = np.random.default_rng([cfg["seed"], rank])
    augment = Augment.from_dict(cfg.get("augment"))
    batch = max(1, opt_cfg["batch_size"] // world)
    length = opt_cfg["chunk_steps"] + cfg["horizon_steps"] + 1
    best, best_ade, stale, history = copy.deepcopy(model.state_dict()), math.inf, 0, []
    if init is not None:   # fine-tuning keeps the initial weights unless validation improves on them
        model.eval()
        best_ade = summarise(*predict_flights(model, val_flights, dt, cfg["min_history"]))["ade"]
        model.train()
        history.append({"epoch": 0, "val_ade": best_ade})
    bar = tqdm(total=epochs * steps, disable=not progress or rank != 0, desc="train", unit="step")
    for epoch in range(epochs):
        start, running = time.perf_counter(), []
        for _ in range(steps):
            chunk = sample_chunks(train_flights, batch, length, rng, augment, dt if model.uses_attitude else None)
            loss, ade = chunk_loss(net, chunk, dt, opt_cfg["loss_from"], opt_cfg["nll_weight"],
                                   opt_cfg.get("relative_floor") or 0.0, opt_cfg.get("nll") or "gaussian",
                                   opt_cfg.get("student_dof") or 4.0)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), opt_cfg["grad_clip"])
            optimiser.step()
            schedule.step()
            running.append(ade.item())
            bar.update(1)
            bar.set_postfix(ade=f"{np.mean(running[-20:]):.4f}")
        model.eval()
        val = summarise(*predict_flights(model, val_flights, dt, cfg["min_history"]))
        model.train()
        history.append({"epoch": epoch + 1, "train_ade": float(np.mean(running)), "val_ade": val["ade"],
                        "val_cv_ade": val["cv_ade"], "seconds": time.perf_counter() - start})
        if rank == 0:
            bar.write(f"epoch {epoch + 1}: train ADE {np.mean(running):.4f}  val ADE {val['ade']:.4f} "
                      f"(CV {val['cv_ade']:.4f})")
        if val["ade"] < best_ade - 1e-5:
            best, best_ade, stale = copy.deepcopy(model.state_dict()), val["ade"], 0
        else:
            stale += 1
            if stale >= opt_cfg["patience"]:
                if rank == 0:
                    bar.write(f"early stop: no validation gain for {stale} epochs")
                break
    bar.close()
    model.load_state_dict(best)
    model.eval()
    return model, history

"""One data-generation run: plan the references, fly them with the commander, record, write the card."""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path

from .backend import VehicleBackend
from .commander import Commander, RunResult, State
from .config import DatagenConfig
from .plan import plan_trajectories
from .recorder import DatasetRecorder


@dataclass
class DatagenOutput:
    result: RunResult
    out_dir: Path
    card: Path


def make_backend(name: str, config: DatagenConfig) -> VehicleBackend:
    """The backend named "sim" (embedded simulator) or "px4" (PX4 through MAVSDK) per `config`."""
    if name == "sim":
        from .sim_backend import EmbeddedSimBackend
        options = dict(config.vehicle)
        _check_options("vehicle", options, EmbeddedSimBackend, exclude={"seed", "fail_first"})
        return EmbeddedSimBackend(seed=config.seed, **options)
    if name == "px4":
        from .mavsdk_backend import MavsdkBackend
        options = dict(dict(setpoint_rate=config.setpoint_rate), **config.px4)
        _check_options("px4", options, MavsdkBackend)
        return MavsdkBackend(**options)
    raise ValueError(f"unknown backend {name!r}; expected 'sim' or 'px4'")


def _check_options(section: str, options: dict, backend_class, exclude=()) -> None:
    """ValueError naming the config section when it has keys the backend does not take."""
    accepted = set(inspect.signature(backend_class.__init__).parameters) - {"self"} - set(exclude)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"{section}: unknown settings {unknown}; accepted: {sorted(accepted)}")


class _Tee:
    """Forwards the commander's recorder calls to the dataset recorder and to listeners (e.g. a ROS node)."""

    def __init__(self, *targets):
        self.targets = targets

    def odometry(self, state):
        for target in self.targets:
            target.odometry(state)

    def mark(self, t, text):
        for target in self.targets:
            target.mark(t, text)

    def trajectory(self, record):
        for target in self.targets:
            target.trajectory(record)


def run_datagen(config: DatagenConfig, backend: VehicleBackend, out_dir=None, backend_name: str = "",
                listeners=()) -> DatagenOutput:
    """Fly `config.trajectories` references on `backend`, recording into out_dir (default config.out_dir).

    `listeners` also receive every `odometry(state)`, `mark(t, text)` and `trajectory(record)` call.
    """
    out_dir = Path(out_dir or config.out_dir)
    plan = plan_trajectories(config)
    card = dict(dataset="uav_traj_predictor datagen", seed=config.seed, backend=backend_name,
                vehicle=dict(description=backend.description, params=getattr(backend, "params", None),
                             wind=getattr(backend, "wind", None)),
                config=config.to_dict())
    recorder = DatasetRecorder(out_dir, card, config.bag_format)
    commander = Commander(backend, config, plan, _Tee(recorder, *listeners))
    try:
        result = commander.run()
    except BaseException as err:        # Ctrl-C or a bug: land if airborne, keep what was recorded, re-raise
        commander.result.final_state = State.FAILED
        commander.result.errors.append(f"interrupted: {type(err).__name__}: {err}")
        _land_if_airborne(backend, config)
        recorder.close(commander.result)
        raise
    finally:
        backend.close()
    return DatagenOutput(result=result, out_dir=out_dir, card=recorder.close(result))


def _land_if_airborne(backend: VehicleBackend, config: DatagenConfig) -> None:
    """Best-effort landing after an interruption (errors ignored: the run is ending anyway)."""
    try:
        if backend.state().in_air:
            backend.land(config.timeouts["land"])
    except Exception as err:             # noqa: BLE001 - reported, never raised over the original error
        logging.getLogger(__name__).warning("landing after interruption failed: %s", err)


def format_summary(output: DatagenOutput) -> str:
    """Per-trajectory tracking-error table and where the files are."""
    result = output.result
    lines = [f"{'id':>4} {'family':<11} {'dur s':>6} {'rmse m':>7} {'p95 m':>7} {'max m':>7} {'sp Hz':>6} "
             f"{'vmax':>5}"]
    for record in result.flown:
        s = record.stats
        lines.append(f"{record.index:>4} {record.family:<11} {s['duration_s']:>6.1f} {s['rmse_m']:>7.3f} "
                     f"{s['p95_m']:>7.3f} {s['max_m']:>7.3f} {s['setpoint_rate_hz']:>6.1f} {s['max_speed']:>5.1f}")
    for skipped in result.skipped:
        lines.append(f"{skipped['index']:>4} {skipped['family']:<11} skipped after {skipped['attempts']} "
                     f"attempts: {skipped['reason']}")
    lines.append(f"final state {result.final_state.value}; {len(result.flown)} flown, {len(result.skipped)} "
                 f"skipped; bag {output.out_dir / 'bag'}, TUM files {output.out_dir / 'trajectories'}, "
                 f"card {output.card}")
    return "\n".join(lines)

"""Random-weight checkpoints in the real format, for tests of plumbing (not accuracy): the one factory."""
from pathlib import Path


def random_model(hidden=16, layers=1, head_hidden=16, horizon=10, features=None, seed=0, scales=False):
    """A seeded VelocityGRU; `features` None keeps Architecture's default inputs. `scales`: non-trivial
    normalisation, residual scale and speed calibration buffers (so a round trip that drops one shows)."""
    import torch

    from uav_traj_predictor.model import Architecture, VelocityGRU
    torch.manual_seed(seed)
    options = {} if features is None else {"input_features": features}
    model = VelocityGRU(Architecture(hidden=hidden, layers=layers, head_hidden=head_hidden, horizon_steps=horizon,
                                     **options))
    if scales:
        model.velocity_scale.copy_(torch.tensor([2.0, 2.0, 0.5]))
        model.accel_scale.copy_(torch.tensor([3.0, 3.0, 1.5]))
        model.residual_scale.copy_(torch.linspace(0.01, 0.3, horizon))
        model.speed_calibration.copy_(torch.linspace(0.6, 1.4, model.speed_calibration.numel()).reshape(
            model.speed_calibration.shape))
    return model


def random_checkpoint(path, model=None, *, min_history=5, cv_std=None, model_id="test-random", rate=10.0,
                      **model_options) -> Path:
    """Save `model` (default: `random_model(**model_options)`) at `path` with the metadata a checkpoint
    carries; cv_std defaults to 0.01 m x (k + 1) per step. Returns the path."""
    from uav_traj_predictor.model import save_checkpoint
    model = random_model(**model_options) if model is None else model
    horizon = model.arch.horizon_steps
    meta = {"model_id": model_id, "rate": rate, "dt": 1.0 / rate, "min_history": min_history,
            "horizon_steps": horizon, "cv_std": cv_std or [0.01 * (k + 1) for k in range(horizon)],
            "training": {"data": "none (random weights, test/helpers)"}, "metrics": {}}
    return Path(save_checkpoint(Path(path), model, meta))


# The size of bench/fuzz.py's tiny checkpoint (hidden 8, one layer, 1 s horizon): cheap to stream, the
# reliability tests do not depend on the weights.
TINY = {"hidden": 8, "head_hidden": 8, "cv_std": [0.05] * 10}

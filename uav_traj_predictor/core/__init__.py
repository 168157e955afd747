"""core room of uav_traj_predictor (see docs/architecture.md)."""
from .resampler import OnlineResampler, ResamplerOutput

__all__ = ["OnlineResampler", "ResamplerOutput"]

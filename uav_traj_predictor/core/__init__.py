"""core room of uav_traj_predictor (see docs/architecture.md)."""
from .heap import freeze_startup_heap
from .resampler import OnlineResampler, ResamplerOutput
from .prediction import FALLBACK_CV, TRACKING, WARMING_UP, Prediction, PredictionBatch, TrackEvent
from .shards import shard_of
from .tracks import TickResult, TrackBank

__all__ = ["OnlineResampler", "ResamplerOutput", "freeze_startup_heap"]
__all__ += ["FALLBACK_CV", "Prediction", "PredictionBatch", "TRACKING", "shard_of",
            "TickResult", "TrackBank", "TrackEvent", "WARMING_UP"]

"""model room: the streaming velocity GRU, its checkpoints and the `StreamingPredictor` (docs/model.md)."""
from .checkpoint import (CheckpointError, default_checkpoint_path, load_checkpoint, save_checkpoint,
                         shipped_checkpoint_for)
from .network import Architecture, VelocityGRU
from .streaming import FALLBACK_CV, TRACKING, WARMING_UP, StreamingPredictor

__all__ = ["Architecture", "CheckpointError", "FALLBACK_CV", "StreamingPredictor", "TRACKING", "VelocityGRU",
           "WARMING_UP", "default_checkpoint_path", "load_checkpoint", "save_checkpoint", "shipped_checkpoint_for"]

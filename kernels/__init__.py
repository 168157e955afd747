"""GRU recurrence kernels: PyTorch reference, Triton sequence/step kernels, CPU paths, dispatcher.

Installed as `uav_traj_predictor.kernels`; imports nothing from the rest of the package (and Triton
only when a Triton backend is used). See kernels/README.md.
"""
from .dispatch import BACKENDS, GRUStepper, gru_sequence, gru_step, resolve_backend
from .reference import gru_cell_reference, gru_reference
from .weights import GRULayer, GRUWeights

__all__ = ["BACKENDS", "GRULayer", "GRUStepper", "GRUWeights", "gru_cell_reference", "gru_reference",
           "gru_sequence", "gru_step", "resolve_backend"]

"""nodes room of uav_traj_predictor (see docs/architecture.md): thin rclpy adapters over the core.

Importing a node pins numerical libraries to one thread unless the user chose otherwise: the node's
batches are small, and on a shared robot CPU multi-threaded BLAS mostly adds contention (measured 5x
slower 1000-track ticks on a loaded 2-core machine, bench/node_latency.py). Set OPENBLAS_NUM_THREADS /
OMP_NUM_THREADS / MKL_NUM_THREADS before starting a node to change it.
"""
import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

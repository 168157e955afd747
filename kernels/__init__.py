"""GRU recurrence kernels: PyTorch reference, Triton sequence/step kernels, CPU paths, dispatcher.

Installed as `uav_traj_predictor.kernels`; imports nothing from the rest of the package.
"""

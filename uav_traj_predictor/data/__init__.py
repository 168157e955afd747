"""data room of uav_traj_predictor (see docs/architecture.md)."""

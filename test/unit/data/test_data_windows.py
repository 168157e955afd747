"""The protocol's window rule (data.windows.window_indices), the one function every room calls."""
import numpy as np
import torch

from uav_traj_predictor.data import window_indices
from uav_traj_predictor.evaluate import Protocol
from uav_traj_predictor.evaluate import window_indices as protocol_window_indices
from uav_traj_predictor.model.network import Architecture, VelocityGRU
from uav_traj_predictor.sim.kinematic import cv_error_by_speed
from uav_traj_predictor.train.trainer import predict_flights


def test_window_rule_and_the_rooms_that_use_it():
    for length in range(0, 40):
        for history, horizon in ((20, 10), (5, 3), (1, 1)):
            rule = [k for k in range(length) if k >= history and k + horizon <= length - 1]
            assert window_indices(length, history, horizon).tolist() == rule
            protocol = Protocol(history=history, horizon=horizon)
            assert protocol_window_indices(length, protocol).tolist() == rule
    # training validation: one row per window of every track, none for a track too short for one
    torch.manual_seed(0)
    model = VelocityGRU(Architecture(hidden=4, head_hidden=4, horizon_steps=3)).eval()
    tracks = [np.cumsum(np.random.default_rng(i).normal(size=(m, 3)), axis=0) for i, m in enumerate((12, 8, 9, 30))]
    with torch.no_grad():
        errors, *_ = predict_flights(model, tracks, 0.1, min_history=5)
    assert len(errors) == sum(len(window_indices(len(t), 5, 3)) for t in tracks) == 4 + 0 + 1 + 22
    # the simulator's predictability statistic: one CV error per window
    rows = cv_error_by_speed(tracks, horizon=3, history=5, edges=(0.0, np.inf))
    assert rows[0][2] == 1.0

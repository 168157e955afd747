"""Grid velocities from position differences vs from the measured velocity (twist), on simulated flights
with each odometry noise model (the real flights have motion-capture positions: little difference there).

    cd /tmp && /work/main/.venv/bin/python /work/main/bench/velocity_source.py

30 flights x 60 s per noise model (seed 777), shipped checkpoint, evaluation protocol; prints pooled ADE of
the model with each velocity source and of constant velocity (which always differences positions).
"""
import os
os.environ["OMP_NUM_THREADS"] = "1"
import torch
torch.set_num_threads(1)
from uav_traj_predictor.sim import generate_flights
from uav_traj_predictor.evaluate import Protocol, build_methods, evaluate_flights
for noise in ("mocap", "vio", "gnss"):
    flights = generate_flights(30, 60, seed=777, noise=noise)
    row = []
    for source in ("pose", "twist"):
        protocol = Protocol(velocity_source=source)
        report = evaluate_flights(flights, build_methods(["model", "cv"], protocol), protocol, progress=False)
        row.append((source, round(report["pooled"]["model"]["ade"], 3), round(report["pooled"]["cv"]["ade"], 3),
                    report["pooled"]["model"]["windows"]))
    print(f"{noise:>6}: " + ", ".join(f"model ({source}) {ade:.3f}" for source, ade, _, _ in row)
          + f", cv {row[0][2]:.3f} m, {row[0][3]} windows", flush=True)

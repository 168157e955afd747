"""`uav-traj demo --duration 8`: summary, PNG, clean shutdown (no stray processes, no shared memory)."""
import re
import subprocess

import psutil
import pytest
import torch

pytestmark = pytest.mark.ros


def random_checkpoint(folder):
    """The demo plumbing is under test here, not the shipped model (the model room tests that one)."""
    from uav_traj_predictor.model.checkpoint import save_checkpoint
    from uav_traj_predictor.model.network import Architecture, VelocityGRU
    torch.manual_seed(0)
    model = VelocityGRU(Architecture(hidden=16, head_hidden=16, horizon_steps=10))
    meta = dict(model_id="test-random", rate=10.0, dt=0.1, min_history=5, horizon_steps=10, cv_std=[0.01] * 10,
                training={}, metrics={})
    return save_checkpoint(folder / "random.pt", model, meta)


def test_demo_runs_summarises_plots_and_cleans_up(console_script, ros_env, tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([console_script("uav-traj"), "demo", "--duration", "8", "--out", str(out),
                          "--checkpoint", str(random_checkpoint(tmp_path))],
                         env=ros_env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    text = run.stdout
    assert "tracks with predictions : 3/3" in text
    predictions = int(re.search(r"predictions received\s+: (\d+)", text).group(1))
    assert predictions >= 3 * 8 * 10 * 0.7, text                 # ~10 Hz per vehicle for 8 s
    assert re.search(r"live ADE / FDE \(1 s\)\s+: model [\d.]+ / [\d.]+ m, constant velocity [\d.]+ / [\d.]+ m", text)
    p50, p99 = map(float, re.search(r"latency odom -> pred\s+: p50 ([\d.]+) ms, p99 ([\d.]+) ms", text).groups())
    assert 0 < p50 <= p99 < 1000, text
    assert "exit codes [0, 0], stray processes 0, stale /dev/shm participant segments 0 (of " in text
    png = out / "demo.png"
    assert str(png) in text and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    leftovers = [p for p in psutil.process_iter(["cwd", "cmdline"]) if p.info["cwd"] == str(out)]
    assert not leftovers, [p.info["cmdline"] for p in leftovers]

"""`uav-traj demo --duration 8`: summary, PNG, clean shutdown (no stray processes, no shared memory)."""
import re
import subprocess

import psutil
import pytest

pytestmark = pytest.mark.ros


def test_demo_runs_summarises_plots_and_cleans_up(console_script, ros_env, tmp_path, random_checkpoint):
    out = tmp_path / "demo"
    run = subprocess.run([console_script("uav-traj"), "demo", "--duration", "8", "--out", str(out),
                          "--checkpoint", random_checkpoint],
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

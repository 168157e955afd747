"""`uav-traj demo --duration 8`: summary, PNG, clean shutdown (no stray processes, no shared memory)."""
import re
import subprocess

import psutil
import pytest

pytestmark = pytest.mark.ros

# README "What make demo shows" (30 s, 3 vehicles, quiet machine): 903 predictions (30/s), latency p50 2.64 ms,
# p99 5.47 ms, tick p50 0.111 ms. Bounds here: ~3x those. p99 is bounded by 200 ms, 2x the ~100 ms start-up
# tail docs/reliability.md reports for few vehicles: an 8 s run is dominated by its start-up (observed here
# under load: p99 37-95 ms with p50 4-5 ms).
PREDICTIONS_PER_S, LATENCY_P50_MS, LATENCY_P99_MS, TICK_P50_MS = 30.1, 2.64, 100.0, 0.111


def test_demo_runs_summarises_plots_and_cleans_up(console_script, ros_env, tmp_path, random_checkpoint):
    out = tmp_path / "demo"
    run = subprocess.run([console_script("uav-traj"), "demo", "--duration", "8", "--out", str(out),
                          "--checkpoint", random_checkpoint],
                         env=ros_env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    text = run.stdout
    print(text)                      # the figures, for the log
    assert "tracks with predictions : 3/3" in text
    predictions, lost = map(int, re.search(
        r"predictions received\s+: (\d+) \(odometry messages \d+, lost predictions (\d+)\)", text).groups())
    assert predictions >= PREDICTIONS_PER_S * 8 / 1.5 and lost == 0, text     # ~10 Hz per vehicle for 8 s
    assert re.search(r"live ADE / FDE \(1 s\)\s+: model [\d.]+ / [\d.]+ m, constant velocity [\d.]+ / [\d.]+ m", text)
    p50, p99 = map(float, re.search(r"latency odom -> pred\s+: p50 ([\d.]+) ms, p99 ([\d.]+) ms", text).groups())
    assert 0 < p50 <= 3 * LATENCY_P50_MS and p50 <= p99 <= 2 * LATENCY_P99_MS, text
    tick_p50 = float(re.search(r"tick_p50_ms=([\d.]+)", text).group(1))
    assert tick_p50 <= 3 * TICK_P50_MS, text
    assert "exit codes [0, 0], stray processes 0, stale /dev/shm participant segments 0 (of " in text
    png = out / "demo.png"
    assert str(png) in text and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    leftovers = [p for p in psutil.process_iter(["cwd", "cmdline"]) if p.info["cwd"] == str(out)]
    assert not leftovers, [p.info["cmdline"] for p in leftovers]

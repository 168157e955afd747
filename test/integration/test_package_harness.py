"""The process harness (uav_traj_predictor.harness) with plain Python children, no rclpy: the loopback
check, logs, stop with and without a SIGKILL, the watchdog, which /dev/shm files a process owns, and the
stale-segment cleanup every node runs at start-up (both Fast DDS namings, only dead owners)."""
import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest

from uav_traj_predictor import harness, rosenv

IGNORES_SIGTERM = ("import faulthandler, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"   # as our nodes (lifecycle.py)
                   "print('ready', flush=True); time.sleep(60)")
# maps a would-be participant segment and a port file of a fake /dev/shm, holds the segment's lock open
MAPPER = """import fcntl, mmap, os, sys, time
folder = sys.argv[1]
maps = []
for name in ("fastdds_0123456789abcdef", "fastdds_port7411", "other_0123456789abcdef"):
    with open(os.path.join(folder, name), "r+b") as handle:
        maps.append(mmap.mmap(handle.fileno(), 16))
lock = os.open(os.path.join(folder, "fastdds_0123456789abcdef_el"), os.O_RDONLY)
fcntl.flock(lock, fcntl.LOCK_EX)
print("mapped", flush=True)
time.sleep(60)
"""


def wait_for(child, text, seconds=30.0):
    deadline = time.monotonic() + seconds
    while text not in child.output():
        assert child.poll() is None and time.monotonic() < deadline, child.output()
        time.sleep(0.02)


def test_start_refuses_an_environment_that_lets_dds_leave_the_machine(ros_env):
    unsafe = dict(ros_env)
    unsafe.pop(rosenv.RANGE)
    unsafe.pop(rosenv.LOCALHOST_ONLY, None)
    with pytest.raises(rosenv.UnsafeDDSEnvironment):
        harness.start([sys.executable, "-c", "pass"], unsafe)
    with pytest.raises(rosenv.UnsafeDDSEnvironment, match="RMW_IMPLEMENTATION is set"):
        harness.start([sys.executable, "-c", "pass"], dict(ros_env, RMW_IMPLEMENTATION="rmw_cyclonedds_cpp"))


def test_child_logs_stdout_and_stderr_and_stops_with_its_exit_code(ros_env, tmp_path):
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n"
              "print('out', flush=True); print('err', file=sys.stderr, flush=True); time.sleep(60)")
    child = harness.start([sys.executable, "-c", script], ros_env, log=tmp_path / "child.log")
    assert child.name == os.path.basename(sys.executable) and child.log == tmp_path / "child.log"
    wait_for(child, "err")
    harness.check_running([child])                       # running: no complaint
    assert harness.stray([child]) == [child.pid]
    assert child.stop() == 3                             # SIGTERM by default, the child's own exit code
    assert harness.stray([child]) == []
    assert child.output().split() == ["out", "err"]
    with pytest.raises(harness.ChildExited, match=rf"{child.name} exited early with code 3"):
        harness.check_running([child])
    again = harness.start([sys.executable, "-c", "print('second')"], ros_env, log=tmp_path / "child.log", append=True)
    assert again.wait(30) == 0 and again.output().split() == ["out", "err", "second"]


def test_a_child_that_ignores_the_stop_signal_is_killed_after_the_timeout(ros_env, capsys):
    child = harness.start([sys.executable, "-c", IGNORES_SIGTERM], ros_env)
    other = harness.start([sys.executable, "-c", "import time; time.sleep(60)"], ros_env)
    wait_for(child, "ready")
    started = time.monotonic()
    codes = harness.stop_all([child, other], signal.SIGTERM, timeout=0.5)
    assert codes == [-signal.SIGKILL, -signal.SIGTERM]
    assert time.monotonic() - started < 10
    assert f"{child.name} did not stop within 0.5 s of SIGTERM: killed" in capsys.readouterr().err
    assert 'File "<string>", line 2 in <module>' in child.output()   # SIGUSR1 first: where it was stuck
    assert harness.stray([child, other]) == [] and harness.stop(child) == -signal.SIGKILL   # already gone


def test_fast_dds_files_of_a_process_and_what_it_leaves_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "SHM_DIR", tmp_path)
    for name in ("fastdds_0123456789abcdef", "fastdds_port7411", "other_0123456789abcdef"):
        (tmp_path / name).write_bytes(bytes(16))
    (tmp_path / "fastdds_0123456789abcdef_el").write_bytes(b"")
    mapper = subprocess.Popen([sys.executable, "-c", MAPPER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert mapper.stdout.readline().strip() == "mapped"
        assert harness.fast_dds_files(mapper.pid) == {"fastdds_0123456789abcdef", "fastdds_port7411",
                                                      "fastdds_0123456789abcdef_el"}
        segments = harness.participant_segments([mapper.pid])
        assert segments == {"fastdds_0123456789abcdef"}               # ports are shared: not owned
        assert harness.stale_segments(segments) == []                 # still mapped by a live process
        assert harness.shm_files() == {"fastdds_0123456789abcdef", "fastdds_port7411", "fastdds_0123456789abcdef_el"}
    finally:
        mapper.kill()
        mapper.wait(10)
    assert harness.fast_dds_files(mapper.pid) == set()                # gone
    assert harness.stale_segments(segments) == ["fastdds_0123456789abcdef"]   # left behind by a SIGKILL
    harness.clean_stale_shared_memory("test")                          # its lock is free now: removed
    assert harness.stale_segments(segments) == [] and harness.shm_files() == {"fastdds_port7411"}


# ---- Fast DDS shared memory: both namings, only dead owners ---------------------------------------------
LOCK_HOLDER = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
               "print('locked', flush=True); time.sleep(60)")


@pytest.mark.ros
def test_stale_segments_of_both_fast_dds_namings_are_removed_live_ones_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(harness, "SHM_DIR", tmp_path)
    files = {}
    for prefix in ("fastrtps", "fastdds"):
        for state, segment_id in (("dead", "0123456789abcdef"), ("live", "fedcba9876543210")):
            segment = tmp_path / f"{prefix}_{segment_id}"
            segment.write_bytes(b"x")
            (tmp_path / f"{segment.name}_el").write_bytes(b"")
            files[prefix, state] = segment
        for name in (f"{prefix}_port7411", f"{prefix}_port7411_el", f"{prefix}_port7411_sl"):
            (tmp_path / name).write_bytes(b"")      # ports are shared: never removed
    (tmp_path / "fastdds_0123456789abcdef_sl").write_bytes(b"")   # not a segment lock name: left alone
    (tmp_path / "other_0123456789abcdef_el").write_bytes(b"")
    holders = [subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, f"{files[prefix, 'live']}_el"],
                                stdout=subprocess.PIPE, text=True) for prefix in ("fastrtps", "fastdds")]
    try:
        for holder in holders:
            assert holder.stdout.readline().strip() == "locked"
        harness.clean_stale_shared_memory("test_node")
        left = sorted(p.name for p in tmp_path.iterdir())
    finally:
        for holder in holders:
            holder.kill()
            holder.wait(10)
    assert "removed 2 stale Fast DDS shared-memory segment(s)" in capsys.readouterr().err
    for prefix in ("fastrtps", "fastdds"):
        assert files[prefix, "dead"].name not in left and f"{files[prefix, 'dead'].name}_el" not in left
        assert files[prefix, "live"].name in left and f"{files[prefix, 'live'].name}_el" in left
        assert {f"{prefix}_port7411", f"{prefix}_port7411_el", f"{prefix}_port7411_sl"} <= set(left)
    assert {"fastdds_0123456789abcdef_sl", "other_0123456789abcdef_el"} <= set(left)
    with open(f"{files['fastdds', 'live']}_el", "rb") as handle:   # its owner is gone now: free
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

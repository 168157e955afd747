"""The one process harness: starting and stopping our node processes, and Fast DDS shared memory.

Used by `uav-traj demo`, the benchmarks that start processes (bench/soak.py, bench/node_latency.py), the
multi-process tests, and (only `clean_stale_shared_memory`) every node at start-up (nodes/lifecycle.py).
No rclpy import here: a process that only starts and watches children does not need it.

Children: `start(command, env=...)` refuses an environment that would let DDS leave the machine
(`rosenv.check_loopback_dds`) and sends the child's stdout and stderr to a log file (a temporary one
unless `log` names one, so that a chatty child can never block on a full pipe); the `Child` it returns
is a `subprocess.Popen` with the command's name, the log and `stop()`. `stop` / `stop_all` signal (SIGTERM
unless told otherwise: rclpy turns SIGINT and SIGTERM alike into a clean shutdown, and Fast DDS then
removes its /dev/shm segments), wait, and SIGKILL what is still running after the timeout (said on
stderr; its exit code is then -9, which every caller that checks for 0 sees). Before that SIGKILL the child
gets SIGUSR1 and STACK_DUMP_S s: our nodes then write every thread's Python stack to their log
(nodes/lifecycle.enable_stack_dumps), so a node that would not stop says where it was stuck.

Fast DDS shared memory: in localhost discovery mode rmw_fastrtps adds the shared-memory transport
itself, so every participant has /dev/shm files. Their names: see SEGMENT_LOCK / PORT_FILE below.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import rosenv

STOP_TIMEOUT_S = 15.0       # after the stop signal, before SIGKILL
STACK_DUMP_S = 1.0          # between SIGUSR1 (stack dump) and SIGKILL for a child that did not stop

SHM_DIR = Path("/dev/shm")
# Fast DDS names its shared-memory files after its "domain": fastrtps_* in Fast DDS 2.x (Humble, Jazzy),
# fastdds_* in 3.x (Kilted). A participant segment is <domain>_<16 hex>, locked for its whole life by
# its creator through <domain>_<16 hex>_el (flock, RobustExclusiveLock); ports are <domain>_port<N>
# (+ _el/_sl locks), shared by every participant on the machine.
FAST_DDS_FILE = re.compile(r"^(?:fastrtps|fastdds)_")
SEGMENT_LOCK = re.compile(r"^(?:fastrtps|fastdds)_[0-9a-f]{16}_el$")
PORT_FILE = re.compile(r"^(?:fastrtps|fastdds)_port\d+")


# ---- children --------------------------------------------------------------------------------------------
class ChildExited(RuntimeError):
    """A child that should still run has exited."""


class Child(subprocess.Popen):
    """A process started by `start`: a Popen with `name` (the command's file name), `log` (its stdout and
    stderr) and `stop()`."""

    def __init__(self, command, env: dict, log: Path | None = None, cwd=None, append: bool = False):
        command = [str(part) for part in command]
        rosenv.check_loopback_dds(env)
        self.name = Path(command[0]).name
        if log is None:
            handle = tempfile.NamedTemporaryFile("wb", prefix=f"{self.name}_", suffix=".log", delete=False)
        else:
            handle = open(log, "ab" if append else "wb")
        self.log = Path(handle.name)
        with handle:
            super().__init__(command, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)

    def output(self) -> str:
        """What the child wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        return stop(self, sig, timeout)


def start(command, env: dict, log: Path | None = None, cwd=None, append: bool = False) -> Child:
    """Start `command` (a list) with `env`, which must keep DDS on loopback; output to `log` (truncated,
    or appended to with `append`; default a temporary file)."""
    return Child(command, env, log=log, cwd=cwd, append=append)


def console_script(name: str) -> str:
    """Path of one of the package's console scripts: beside this interpreter (the venv's bin/), else on PATH."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
    """Signal one child we started (if it still runs) and wait for it; SIGKILL after `timeout` s. Returns
    its exit code (negative: the signal that ended it)."""
    return stop_all([process], sig, timeout)[0]


def stop_all(processes, sig=signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> list[int]:
    """`stop` for several children at once: all are signalled first, then each gets `timeout` s."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(sig)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # our nodes dump their stacks to the log (others may die of it)
            time.sleep(STACK_DUMP_S)
            process.kill()
            process.wait()
            codes.append(-signal.SIGKILL)        # killed, whichever signal ended it
            print(f"{_name(process)} did not stop within {timeout:g} s of {signal.Signals(sig).name}: killed",
                  file=sys.stderr)
    return codes


def check_running(processes) -> None:
    """Raise ChildExited naming the first of `processes` that is no longer running (a watchdog)."""
    for process in processes:
        if process.poll() is not None:
            raise ChildExited(f"{_name(process)} exited early with code {process.returncode}")


def stray(processes) -> list[int]:
    """Pids of `processes` still running (after a stop: processes left behind)."""
    return [process.pid for process in processes if process.poll() is None]


def _name(process) -> str:
    return getattr(process, "name", None) or Path(str(process.args[0] if isinstance(process.args, (list, tuple))
                                                       else process.args)).name


# ---- Fast DDS shared memory ---------------------------------------------------------------------------------
def shm_files() -> set[str]:
    """Names of the Fast DDS files in /dev/shm now (any process's)."""
    return {path.name for path in SHM_DIR.iterdir() if FAST_DDS_FILE.match(path.name)} if SHM_DIR.is_dir() else set()


def fast_dds_files(pid: int) -> set[str]:
    """Names of the /dev/shm Fast DDS files a live process has mapped or open (segments, their locks, ports);
    empty for a process that is gone."""
    found = set()
    try:
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            found |= _fast_dds_name(line.split()[-1] if len(line.split()) >= 6 else "")
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            found |= _fast_dds_name(os.readlink(fd) if fd.is_symlink() else "")
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        pass
    return found


def participant_segments(pids) -> set[str]:
    """Names of the Fast DDS participant segments these processes have mapped.

    Port segments are left out: Fast DDS shares them between all participants on the machine and keeps
    them for reuse, so they are not owned by any one process."""
    names = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        for fields in (line.split() for line in maps.splitlines()):
            names |= {name for name in _fast_dds_name(fields[-1] if fields else "") if not PORT_FILE.match(name)}
    return names


def stale_segments(names) -> list[str]:
    """Those of the segments `names` still in /dev/shm that no running process maps (left behind)."""
    present = {name for name in names if (SHM_DIR / name).exists()}
    if present:
        present -= participant_segments([p.name for p in Path("/proc").iterdir() if p.name.isdigit()])
    return sorted(present)


def _fast_dds_name(path: str) -> set[str]:
    parent, _, name = path.rpartition("/")
    return {name} if parent == str(SHM_DIR) and FAST_DDS_FILE.match(name) else set()


def clean_stale_shared_memory(name: str) -> None:
    """Remove Fast DDS participant segments whose owner process died (e.g. SIGKILLed), both namings.

    A segment is removed only when its `_el` lock can be taken: the kernel drops a flock when the
    process holding it dies, so a live owner's segment is never touched (the test `fastdds shm clean`
    uses). A creator that is between creating and locking its lock file loses the race harmlessly:
    Fast DDS then picks another segment id. Port files are left alone: they are shared, and a dead
    reader's port may still be written to by live publishers until discovery drops it. `name` (the
    node's) prefixes the one line said on stderr when something was removed.
    """
    removed = 0
    for lock in sorted(SHM_DIR.iterdir()) if SHM_DIR.is_dir() else []:
        if not SEGMENT_LOCK.match(lock.name):
            continue
        try:
            fd = os.open(lock, os.O_RDONLY)     # never create: a vanished lock means its owner cleaned up
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # fails while the owner lives
            Path(str(lock)[:-3]).unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
            removed += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    if removed:
        print(f"{name}: removed {removed} stale Fast DDS shared-memory segment(s) of dead processes",
              file=sys.stderr)

"""Start-up and teardown shared by the package's node processes (console scripts)."""
import faulthandler
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation

from .params import ConfigError

TEARDOWN_GRACE_S = 10.0


def enable_stack_dumps() -> None:
    """`kill -USR1 <pid>` writes every thread's Python stack to stderr (diagnosing a stuck node)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)


def clean_stale_shared_memory(name: str) -> None:
    """Remove Fast DDS shared-memory segments left by processes that died without cleaning up.

    A SIGKILLed participant leaves its /dev/shm/fastrtps_* files behind. Fast DDS's own `fastdds shm
    clean` removes only segments and ports whose owner is gone (their file locks were released), so
    running it before joining DDS gives a clean start. Skipped silently where the tool is absent.
    """
    script = Path(sys.prefix, "tools", "fastdds", "fastdds.py")
    command = [sys.executable, str(script)] if script.is_file() else [shutil.which("fastdds") or ""]
    if not command[-1]:
        return
    try:
        done = subprocess.run(command + ["shm", "clean"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"{name}: stale shared-memory cleanup skipped ({error})", file=sys.stderr)
        return
    cleaned = [line for line in done.stdout.splitlines() if "zombie" in line and not line.startswith("0 ")]
    if cleaned:
        print(f"{name}: removed stale Fast DDS shared memory: {'; '.join(cleaned)}", file=sys.stderr)


def init_ros(name: str, args=None) -> bool:
    """rclpy.init with a one-line error (no traceback) for unparsable --ros-args / --params-file."""
    enable_stack_dumps()
    clean_stale_shared_memory(name)
    try:
        rclpy.init(args=args)
    except rclpy_implementation.RCLError as error:
        print(f"{name}: error: cannot parse ROS arguments ({' '.join(str(error).split())})", file=sys.stderr)
        return False
    return True


def spin_node(name: str, node_factory, args=None) -> int:
    """Console-script body: init, build the node, spin until SIGINT/SIGTERM, tear down.

    Exit status: 0 on a clean stop, 2 for bad arguments or parameters (one line on stderr).
    """
    if not init_ros(name, args):
        return 2
    node = None
    try:
        node = node_factory()
        rclpy.spin(node)
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise
        # SIGINT/SIGTERM arrived while starting: the context is gone, which is a clean stop
    finally:
        shutdown_node(node)
    return 0


def shutdown_node(node, grace_s: float = TEARDOWN_GRACE_S) -> None:
    """Destroy `node` and shut rclpy down, bounded in time.

    A teardown that hangs would leave a process that ignores SIGTERM; after `grace_s` every thread's
    stack is written to stderr and the process exits with status 1, so a supervisor sees a
    diagnosable failure instead of a hang.
    """
    faulthandler.dump_traceback_later(grace_s, exit=True)
    try:
        # The executor's suspended wait generator keeps the node's handle "in use" after spin ends
        # (SIGTERM); destroy_node would then block forever. Shutting the executor down releases it.
        rclpy.get_global_executor().shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    finally:
        faulthandler.cancel_dump_traceback_later()

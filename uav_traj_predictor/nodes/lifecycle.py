"""Start-up and teardown shared by the package's node processes (console scripts)."""
import faulthandler
import fcntl
import os
import re
import signal
import sys
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException

from .params import ConfigError, describe

TEARDOWN_GRACE_S = 10.0


def enable_stack_dumps() -> None:
    """`kill -USR1 <pid>` writes every thread's Python stack to stderr (diagnosing a stuck node)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)


SHM_DIR = Path("/dev/shm")
# Fast DDS names its shared-memory files after its "domain": fastrtps_* in Fast DDS 2.x (Humble, Jazzy),
# fastdds_* in 3.x (Kilted). A participant segment is <domain>_<16 hex>, locked for its whole life by
# its creator through <domain>_<16 hex>_el (flock, RobustExclusiveLock); ports are <domain>_port<N>
# (+ _el/_sl locks), shared by every participant on the machine.
SEGMENT_LOCK = re.compile(r"^(?:fastrtps|fastdds)_[0-9a-f]{16}_el$")
PORT_FILE = re.compile(r"^(?:fastrtps|fastdds)_port\d+")


def clean_stale_shared_memory(name: str) -> None:
    """Remove Fast DDS participant segments whose owner process died (e.g. SIGKILLed), both namings.

    A segment is removed only when its `_el` lock can be taken: the kernel drops a flock when the
    process holding it dies, so a live owner's segment is never touched (the test `fastdds shm clean`
    uses). A creator that is between creating and locking its lock file loses the race harmlessly:
    Fast DDS then picks another segment id. Port files are left alone: they are shared, and a dead
    reader's port may still be written to by live publishers until discovery drops it.
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


def help_requested(args=None) -> bool:
    """`-h` / `--help` among the node's own arguments (after the program name, before --ros-args);
    `args` is a full argv as rclpy.init takes it (None: sys.argv)."""
    args = list(sys.argv if args is None else args)[1:]
    own = args[:args.index("--ros-args")] if "--ros-args" in args else args
    return "-h" in own or "--help" in own


def print_help(name: str, parameters) -> None:
    print(f"{name}: a uav_traj_predictor ROS 2 node (docs/nodes.md); stop it with SIGINT or SIGTERM.\n")
    print(describe(parameters, name))


def init_ros(name: str, args=None) -> bool:
    """rclpy.init with a one-line error (no traceback) for unparsable --ros-args / --params-file."""
    enable_stack_dumps()
    clean_stale_shared_memory(name)
    try:
        rclpy.init(args=args)
    except RuntimeError as error:       # rclpy's RCLError (a RuntimeError): rcl could not parse the arguments
        print(f"{name}: error: cannot parse ROS arguments ({' '.join(str(error).split())})", file=sys.stderr)
        return False
    return True


def spin_node(name: str, node_factory, args=None, parameters=None) -> int:
    """Console-script body: init, build the node, spin until SIGINT/SIGTERM, tear down. `--help` prints
    the node's parameters (the NodeParameters class `parameters`) and exits 0 without starting rclpy.

    Exit status: 0 on a clean stop or --help, 2 for bad arguments or parameters (one line on stderr).
    """
    if parameters is not None and help_requested(args):
        print_help(name, parameters)
        return 0
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

"""Start-up and teardown shared by the package's node processes (console scripts). At start-up a node
removes the Fast DDS shared memory of dead processes (`harness.clean_stale_shared_memory`)."""
import faulthandler
import signal
import sys

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException

from ..harness import clean_stale_shared_memory
from .params import ConfigError, describe

TEARDOWN_GRACE_S = 10.0
# Longest a spinning node may take to notice that SIGINT/SIGTERM shut its context down (see `spin`)
SHUTDOWN_POLL_S = 0.25


def enable_stack_dumps() -> None:
    """`kill -USR1 <pid>` writes every thread's Python stack to stderr (diagnosing a stuck node), and a
    fatal signal (SIGSEGV, SIGABRT, ...) writes them before the process dies (diagnosing a crash)."""
    faulthandler.enable(all_threads=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)


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
    node, spun = None, False
    try:
        node = node_factory()
        spun = True
        spin(node)
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
        shutdown_node(node, spun=spun)
    return 0


def spin(node) -> None:
    """`rclpy.spin(node)` that always returns once the context is shut down, however it was.

    rclpy's signal thread (SIGINT/SIGTERM) first triggers the executors' wake-up guard conditions and only
    then shuts the contexts down. An executor woken in between sees its context still ok, consumes the
    wake-up and waits again with nothing left to wake it: a node with no traffic and no timer due (a sim-time
    node whose /clock stopped with the simulator) then never stops. Seen in CI on Kilted: predictor_node
    SIGKILLed 30 s after SIGTERM, its stack in the executor's wait_set.wait. A steady-clock timer wakes the
    executor every SHUTDOWN_POLL_S s, which then sees the shut-down context (4 empty callbacks a second)."""
    node.create_timer(SHUTDOWN_POLL_S, _wake, clock=Clock(clock_type=ClockType.STEADY_TIME))
    rclpy.spin(node)


def _wake() -> None:
    """The wake-up timer's callback: its work is waking the executor's wait."""


def shutdown_node(node, grace_s: float = TEARDOWN_GRACE_S, spun: bool = True) -> None:
    """Destroy `node` and shut rclpy down, bounded in time. `spun`: whether the node got to spin (the global
    executor exists); a signal while the node was being built leaves no executor to shut down, and asking
    rclpy for one then would create it on the dead context (RCLError: a traceback and exit status 1 for
    what is a clean stop).

    A teardown that hangs would leave a process that ignores SIGTERM; after `grace_s` every thread's
    stack is written to stderr and the process exits with status 1, so a supervisor sees a
    diagnosable failure instead of a hang.
    """
    faulthandler.dump_traceback_later(grace_s, exit=True)
    try:
        # The executor's suspended wait generator keeps the node's handle "in use" after spin ends
        # (SIGTERM); destroy_node would then block forever. Shutting the executor down releases it.
        if spun:
            rclpy.get_global_executor().shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    finally:
        faulthandler.cancel_dump_traceback_later()

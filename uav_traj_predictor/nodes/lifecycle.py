"""Shared teardown for the package's node processes."""
import faulthandler
import signal

import rclpy

TEARDOWN_GRACE_S = 10.0


def shutdown_node(node, grace_s: float = TEARDOWN_GRACE_S) -> None:
    """Destroy `node` and shut rclpy down, bounded in time.

    A teardown that hangs (e.g. inside the DDS participant's destruction) would leave a process that
    ignores SIGTERM; after `grace_s` every thread's stack is written to stderr and the process exits
    with status 1, so a supervisor sees a diagnosable failure instead of a hang.
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


def enable_stack_dumps() -> None:
    """`kill -USR1 <pid>` writes every thread's Python stack to stderr (diagnosing a stuck node)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)

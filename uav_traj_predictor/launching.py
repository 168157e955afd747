"""What the package's launch files (launch/*.launch.py) share: a failed process fails the launch.

ROS 2 `launch` ends with exit status 0 whatever its processes did, unless an exception reaches its
event loop: `LaunchService.run()` then logs "Caught exception in launch (see debug for traceback): ...",
shuts everything down and returns 1, which `ros2 launch` exits with (ros2/launch `launch_service.py`;
a `Shutdown` event carries a reason but no exit code). `fail_on_error(process, name)` registers an
`OnProcessExit` handler that, for a non-zero exit while the launch is not already shutting down, emits
`Shutdown(reason=...)` and raises `LaunchedProcessFailed` with that reason: the launch stops and exits 1
with the process and its exit code named. Processes stopped by the launch's own shutdown (SIGINT,
escalated to SIGTERM) are not failures. `launch` is imported only when a launch file calls this.
"""
from __future__ import annotations


class LaunchedProcessFailed(RuntimeError):
    """A process of the launch exited with a non-zero status (the launch exits 1)."""


def exit_failure(name: str, returncode: int | None, shutting_down: bool) -> str | None:
    """The reason the launch fails when process `name` exited with `returncode`, or None (it does not)."""
    if shutting_down or returncode in (0, None):
        return None
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
    return f"{name} {how}: stopping the launch (exit 1)"


def fail_on_error(process, name: str):
    """RegisterEventHandler: a non-zero exit of `process` (a launch_ros Node or an ExecuteProcess) fails
    the launch (see the module doc)."""
    from launch.actions import RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.events import Shutdown

    def on_exit(event, context):
        reason = exit_failure(name, event.returncode, context.is_shutdown)
        if reason is not None:
            context.emit_event_sync(Shutdown(reason=reason))
            raise LaunchedProcessFailed(reason)
        return None

    return RegisterEventHandler(OnProcessExit(target_action=process, on_exit=on_exit))

"""Replay a bag into predictor_node and record its predictions, for `uav-traj bag eval` afterwards.

    ros2 launch uav_traj_predictor bag_eval.launch.py bag:=flight_bag out:=run_bag [checkpoint:=model.pt]
        [rate:=1.0] [odom_topic:=/odom] [predictions_topic:=/predicted_trajectory]
    uav-traj bag eval run_bag --predictions-topic /predicted_trajectory --json report.json

bag play waits for two subscribers on the odometry topic (the node and the recorder), plays, and the
whole launch shuts down two seconds after it finishes, so the recorder stops cleanly (SIGINT) and
flushes the bag. A non-zero exit of the player, the node or the recorder stops the launch with exit
status 1 (uav_traj_predictor.launching). predictions_topic must be
`<namespace of odom_topic>/predicted_trajectory`. The node's parameters are evaluated in an
OpaqueFunction, so `odom_topics` is a real string array (a list holding one substitution would be one
concatenated string to launch_ros).
The bag commands run as `python -m uav_traj_predictor.cli bag ...` with this interpreter, so they
need no console script on PATH.
"""
import sys

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, ExecuteProcess, OpaqueFunction, RegisterEventHandler,
                            TimerAction)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from uav_traj_predictor.launching import fail_on_error

ARGUMENTS = {
    "bag": ("", "bag to replay (directory, .mcap or .db3)"),
    "out": ("", "new bag directory for the recording"),
    "checkpoint": ("", "model checkpoint; empty = the package's default"),
    "rate": ("1.0", "replay speed factor"),
    "odom_topic": ("/odom", "odometry topic in the bag (one track)"),
    "predictions_topic": ("/predicted_trajectory", "predictor_node's PredictedTrajectory topic for that track"),
}


def bag_command(*args):
    return [sys.executable, "-m", "uav_traj_predictor.cli", "bag", *args]


def predictor_node(context):
    """predictor_node with its parameters as plain values (odom_topics a one-element string array)."""
    checkpoint = LaunchConfiguration("checkpoint").perform(context)
    odom_topic = LaunchConfiguration("odom_topic").perform(context)
    predictor = Node(
        package="uav_traj_predictor", executable="predictor_node", name="predictor_node", output="screen",
        parameters=[{"checkpoint": checkpoint, "odom_topics": [odom_topic]}])
    return [predictor, fail_on_error(predictor, "predictor_node")]


def generate_launch_description():
    config = {name: LaunchConfiguration(name) for name in ARGUMENTS}
    recorder = ExecuteProcess(
        cmd=bag_command("record", config["odom_topic"], config["predictions_topic"], "--out", config["out"]),
        output="screen", sigterm_timeout="10")
    player = ExecuteProcess(
        cmd=bag_command("play", config["bag"], "--rate", config["rate"], "--topics", config["odom_topic"],
                        "--wait-for-subscribers", "2", "--wait-timeout", "60", "--delay", "1"),
        output="screen")
    stop_after_play = RegisterEventHandler(OnProcessExit(
        target_action=player,
        on_exit=[TimerAction(period=2.0, actions=[EmitEvent(event=Shutdown(reason="bag play finished"))])]))
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, (default, text) in ARGUMENTS.items()]
        + [OpaqueFunction(function=predictor_node), recorder, player, stop_after_play,
           fail_on_error(player, "bag play"), fail_on_error(recorder, "bag record")])

"""PX4 SITL + Gazebo (gz, x500) data generation: simulator, bridge, trajectory commander, recorder.

    export PX4_DIR=~/PX4-Autopilot            # built once: cd $PX4_DIR && make px4_sitl gz_x500
    ros2 launch uav_traj_predictor px4_gazebo_datagen.launch.py [px4_dir:=...] [out_dir:=datagen_px4]
        [trajectories:=20] [seed:=0] [headless:=true] [record:=true] [predictor:=false]

Processes (see docs/datagen.md):
- PX4 SITL with Gazebo: `make px4_sitl gz_x500` in px4_dir (HEADLESS=1 unless headless:=false);
- ros_gz_bridge parameter_bridge: the vehicle's ground-truth odometry (gz OdometryPublisher on the
  model, gz_odometry_topic) as nav_msgs/Odometry, and /clock;
- datagen_commander (this package): flies the references through MAVSDK offboard (UDP 14540), writes
  out_dir/{bag,trajectories,card.yaml}, publishes /datagen/markers and /datagen/odometry;
- recorder (record:=true): `uav-traj bag record` of the bridged odometry, the markers and the commander's
  odometry into out_dir/ros_bag;
- predictor_node (predictor:=true): live predictions on the bridged odometry.
When the commander exits (all trajectories flown, or failed), the whole launch shuts down, so the
recorder closes its bag cleanly; a non-zero exit of any process (commander, PX4, bridge, recorder,
predictor) stops it with exit status 1 (uav_traj_predictor.launching). The predictor's parameters are
evaluated in an OpaqueFunction, so `odom_topics` is a real string array.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import (EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution,
                                  PythonExpression)
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from uav_traj_predictor.launching import fail_on_error

ARGUMENTS = {
    "px4_dir": (EnvironmentVariable("PX4_DIR", default_value=""), "PX4-Autopilot checkout (default: $PX4_DIR)"),
    "headless": ("true", "run Gazebo without its GUI"),
    "world": ("default", "Gazebo world (PX4_GZ_WORLD)"),
    "gz_odometry_topic": ("/model/x500_0/odometry", "gz topic of the model's OdometryPublisher (ground truth)"),
    "config": (PathJoinSubstitution([FindPackageShare("uav_traj_predictor"), "config", "datagen.yaml"]),
               "datagen YAML (families, counts, speeds, seed)"),
    "out_dir": ("datagen_px4", "output directory of the commander and the recorder"),
    "trajectories": ("0", "number of trajectories; 0 = from the config"),
    "seed": ("-1", "seed of the references; -1 = from the config"),
    "url": ("udpin://0.0.0.0:14540", "MAVSDK connection to PX4 SITL's offboard link"),
    "record": ("true", "record the ROS topics with `uav-traj bag record`"),
    "predictor": ("false", "also run predictor_node on the bridged odometry"),
}

# Executables this launch starts that are not installed by this package (checked by the tests).
EXTERNAL_EXECUTABLES = {"make": "PX4-Autopilot build system", "parameter_bridge": "ros_gz_bridge"}


def predictor_node(context):
    """predictor_node on the bridged odometry (predictor:=true), odom_topics a real string array."""
    if LaunchConfiguration("predictor").perform(context) != "true":
        return []
    predictor = Node(
        package="uav_traj_predictor", executable="predictor_node", name="predictor_node", output="screen",
        parameters=[{"odom_topics": [LaunchConfiguration("gz_odometry_topic").perform(context)]}])
    return [predictor, fail_on_error(predictor, "predictor_node")]


def generate_launch_description():
    arg = {name: LaunchConfiguration(name) for name in ARGUMENTS}
    px4 = ExecuteProcess(
        cmd=["make", "px4_sitl", "gz_x500"], cwd=arg["px4_dir"], output="screen",
        additional_env={"PX4_GZ_WORLD": arg["world"],
                        "HEADLESS": PythonExpression(["'1' if '", arg["headless"], "' == 'true' else ''"])})
    bridge = Node(
        package="ros_gz_bridge", executable="parameter_bridge", name="datagen_gz_bridge", output="screen",
        arguments=[[arg["gz_odometry_topic"], "@nav_msgs/msg/Odometry[gz.msgs.Odometry"],
                   "/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock"])
    commander = Node(
        package="uav_traj_predictor", executable="datagen_commander", name="datagen_commander", output="screen",
        parameters=[{"backend": "px4", "config": arg["config"], "out_dir": arg["out_dir"],
                     "trajectories": arg["trajectories"], "seed": arg["seed"], "url": arg["url"],
                     # with the recorder, fly once it listens to the marks
                     "wait_for_subscribers": PythonExpression(["1 if '", arg["record"], "' == 'true' else 0"])}])
    recorder = ExecuteProcess(
        cmd=["uav-traj", "bag", "record", arg["gz_odometry_topic"], "/datagen/markers", "/datagen/odometry",
             "--out", PathJoinSubstitution([arg["out_dir"], "ros_bag"])],
        output="screen", sigterm_timeout="10", condition=IfCondition(arg["record"]))
    stop_when_done = RegisterEventHandler(OnProcessExit(
        target_action=commander, on_exit=[EmitEvent(event=Shutdown(reason="datagen commander finished"))]))
    failures = [fail_on_error(px4, "PX4 SITL (make px4_sitl gz_x500)"), fail_on_error(bridge, "parameter_bridge"),
                fail_on_error(commander, "datagen_commander"), fail_on_error(recorder, "bag record")]
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, (default, text) in ARGUMENTS.items()]
        + [px4, bridge, commander, recorder, OpaqueFunction(function=predictor_node), stop_when_done] + failures)

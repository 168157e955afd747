"""Launch predictor_node with config/predictor.yaml (override with params_file:=...); a non-zero exit of the
node (a configuration error) makes the launch exit 1 (uav_traj_predictor.launching)."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from uav_traj_predictor.launching import fail_on_error


def generate_launch_description():
    default_params = PathJoinSubstitution([FindPackageShare("uav_traj_predictor"), "config", "predictor.yaml"])
    predictor = Node(package="uav_traj_predictor", executable="predictor_node", name="predictor_node", output="screen",
                     parameters=[LaunchConfiguration("params_file"),
                                 {"use_sim_time": LaunchConfiguration("use_sim_time")}])
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="predictor_node parameters (YAML)"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock time"),
        predictor, fail_on_error(predictor, "predictor_node"),
    ])

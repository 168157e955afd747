"""Simulated vehicles + predictor_node + RViz (config/uav_traj_predictor.rviz). A non-zero exit of sim_node
or predictor_node stops the launch with exit status 1 (uav_traj_predictor.launching); RViz is optional."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from uav_traj_predictor.launching import fail_on_error


def generate_launch_description():
    share = FindPackageShare("uav_traj_predictor")
    use_sim_time = LaunchConfiguration("use_sim_time")
    sim = Node(package="uav_traj_predictor", executable="sim_node", name="sim_node", output="screen",
               parameters=[PathJoinSubstitution([share, "config", "sim.yaml"]), {"publish_clock": use_sim_time}])
    predictor = Node(package="uav_traj_predictor", executable="predictor_node", name="predictor_node", output="screen",
                     parameters=[PathJoinSubstitution([share, "config", "predictor.yaml"]),
                                 {"use_sim_time": use_sim_time}])
    return LaunchDescription([
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="sim_node publishes /clock and the predictor uses it"),
        sim, predictor, fail_on_error(sim, "sim_node"), fail_on_error(predictor, "predictor_node"),
        Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
             arguments=["-d", PathJoinSubstitution([share, "config", "uav_traj_predictor.rviz"])],
             parameters=[{"use_sim_time": use_sim_time}], condition=IfCondition(LaunchConfiguration("rviz"))),
    ])

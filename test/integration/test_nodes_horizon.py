"""predictor_node's horizon parameter picks the shipped checkpoint (nodes built in this process over loopback
DDS): with the default empty `checkpoint`, horizon_steps 11..30 loads models/horizon3s.pt, 0..10 the 1 s default,
more than any shipped checkpoint predicts is a start-up error; an explicit checkpoint is kept as it is."""
import pytest

pytestmark = pytest.mark.ros


def build(context, *args):
    from uav_traj_predictor.nodes.predictor_node import PredictorNode
    return PredictorNode(context=context, cli_args=["--ros-args", "-p", "odom_topics:=['/uav1/odom']", *args])


def test_horizon_steps_selects_the_shipped_checkpoint(random_checkpoint):
    import rclpy

    from uav_traj_predictor.model import default_checkpoint_path, load_checkpoint
    from uav_traj_predictor.nodes.params import ConfigError
    context = rclpy.Context()
    rclpy.init(context=context)
    default_id = load_checkpoint(default_checkpoint_path())[1]["model_id"]
    try:
        for args, steps, published in (([], 10, 10), (["-p", "horizon_steps:=10"], 10, 10),
                                       (["-p", "horizon_steps:=30"], 30, 30), (["-p", "horizon_steps:=20"], 30, 20)):
            node = build(context, *args)
            try:
                predictor = node.bank.predictor
                assert (predictor.horizon_steps, node.bank.horizon_steps) == (steps, published), args
                assert (predictor.model_id == default_id) == (steps == 10)
                assert steps == 10 or "-h30-" in predictor.model_id
            finally:
                node.destroy_node()
        with pytest.raises(ConfigError, match="no shipped checkpoint predicts 31 steps"):
            build(context, "-p", "horizon_steps:=31")
        with pytest.raises(ConfigError, match="exceeds|horizon_steps must be in 1..10"):
            build(context, "-p", f"checkpoint:={random_checkpoint}", "-p", "horizon_steps:=30")
    finally:
        rclpy.try_shutdown(context=context)

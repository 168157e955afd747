"""Untrusted files given to predictor_node (issue 9): a hostile checkpoint or a broken parameter file is
refused with a clear one-line error and a non-zero exit by the real node process on loopback DDS (the
CLIs: test/unit/package/test_package_untrusted_files.py)."""
import subprocess

import pytest

from helpers.untrusted import assert_clear_failure, untrusted_files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return untrusted_files(tmp_path_factory.mktemp("untrusted"))


def run_node(console_script, ros_env, *ros_args, timeout=60):
    return subprocess.run([console_script("predictor_node"), "--ros-args", *ros_args], env=ros_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.ros
def test_predictor_node_refuses_pickled_checkpoint(files, console_script, ros_env):
    result = run_node(console_script, ros_env, "-p", f"checkpoint:={files['bad']['reduce_torch_zip']}",
                      "-p", "odom_topics:=[/uav1/odom]")
    assert_clear_failure(result.returncode, result.stderr, "configuration error", "objects other than tensors")
    assert not files["marker"].exists()


@pytest.mark.ros
def test_predictor_node_refuses_wrong_parameter_types(files, console_script, ros_env, tmp_path):
    params = tmp_path / "predictor.yaml"
    params.write_text("predictor_node:\n  ros__parameters:\n    track_timeout: soon\n"
                      "    odom_topics: ['/uav1/odom']\n")
    result = run_node(console_script, ros_env, "-p", f"checkpoint:={files['good']}", "--params-file", str(params))
    assert_clear_failure(result.returncode, result.stderr, "track_timeout")


@pytest.mark.ros
def test_predictor_node_malformed_params_file_has_clear_message(files, console_script, ros_env, tmp_path):
    params = tmp_path / "predictor.yaml"
    params.write_text("predictor_node:\n  ros__parameters: [unclosed\n")
    result = run_node(console_script, ros_env, "-p", f"checkpoint:={files['good']}", "--params-file", str(params))
    assert_clear_failure(result.returncode, result.stderr, "predictor.yaml")

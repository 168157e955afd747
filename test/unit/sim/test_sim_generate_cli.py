"""`uav-traj generate`: TUM files + dataset card, rosbag2 (mcap) readable by rosbags, argument errors."""
import json
import subprocess

import numpy as np
import pytest
import yaml

from uav_traj_predictor.data import read_flight
from uav_traj_predictor.frames import world_to_body
from uav_traj_predictor.sim import generate_flights
from uav_traj_predictor.sim.generate import BAG_EPOCH_S, CARD_NAME, ODOM_TOPIC, main


def test_writes_tum_files_and_card(tmp_path):
    out = tmp_path / "sim"
    assert main(["--flights", "3", "--duration", "4", "--out", str(out), "--seed", "5",
                 "--families", "racing,clover", "--noise", "none"]) == 0
    card = json.loads((out / CARD_NAME).read_text())
    assert card["arguments"]["seed"] == 5 and card["arguments"]["families"] == ["racing", "clover"]
    assert card["arguments"]["rate_hz"] == 100.0 and card["physics_rate_hz"] == 100.0
    assert len(card["flights"]) == 3
    expected = generate_flights(3, 4.0, seed=5, families=["racing", "clover"], noise="none")
    for entry, flight in zip(card["flights"], expected):
        assert entry["family"] in ("racing", "clover") and entry["name"] == flight.name
        assert entry["stats"]["samples"] == 401 and "vehicle" in entry["parameters"]
        back = read_flight(out / entry["file"])
        assert len(back.t) == 401
        np.testing.assert_allclose(back.p, flight.p, atol=2e-6)    # 6 decimals in the file
        np.testing.assert_allclose(back.t, flight.t, atol=2e-6)
        np.testing.assert_allclose(np.abs(np.sum(back.q * flight.q, axis=1)), 1.0, atol=1e-6)


def test_writes_mcap_bag_that_rosbags_reads(tmp_path):
    from rosbags.highlevel import AnyReader
    out = tmp_path / "bags"
    assert main(["--flights", "1", "--duration", "2", "--out", str(out), "--format", "bag",
                 "--noise", "vio", "--rate", "20", "--families", "vector"]) == 0
    card = json.loads((out / CARD_NAME).read_text())
    bag = out / card["flights"][0]["file"]
    assert (bag / "metadata.yaml").exists() and list(bag.glob("*.mcap"))
    assert "offered_qos_profiles" in (bag / "metadata.yaml").read_text()
    flight = generate_flights(1, 2.0, seed=0, families=["vector"], noise="vio", rate=20.0)[0]
    with AnyReader([bag]) as reader:
        (conn,) = reader.connections
        assert conn.topic == ODOM_TOPIC and conn.msgtype == "nav_msgs/msg/Odometry"
        msgs = [(stamp, reader.deserialize(raw, conn.msgtype)) for conn, stamp, raw in reader.messages()]
    assert len(msgs) == len(flight.t) == card["flights"][0]["stats"]["samples"]
    stamp, msg = msgs[-1]
    assert msg.header.frame_id == "odom" and msg.child_frame_id == "base_link"
    assert stamp == BAG_EPOCH_S * 10 ** 9 + round(flight.t[-1] * 1e9)
    pos = msg.pose.pose.position
    np.testing.assert_allclose([pos.x, pos.y, pos.z], flight.p[-1])
    lin = msg.twist.twist.linear                      # REP 105: the twist is in the body frame
    np.testing.assert_allclose([lin.x, lin.y, lin.z], world_to_body(flight.v[-1], flight.q[-1]), atol=1e-12)
    back = read_flight(bag)                           # the bag reader rotates it back into the world
    np.testing.assert_allclose(back.v, flight.v, atol=1e-9)
    np.testing.assert_allclose(back.p, flight.p)


def test_bag_version_and_storage_options(tmp_path):
    out = tmp_path / "humble"
    assert main(["--flights", "1", "--duration", "1", "--out", str(out), "--format", "bag", "--rate", "20",
                 "--bag-version", "8", "--storage", "sqlite3"]) == 0
    card = json.loads((out / CARD_NAME).read_text())
    assert card["arguments"]["bag_version"] == 8 and card["arguments"]["storage"] == "sqlite3"
    bag = out / card["flights"][0]["file"]
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 8 and info["storage_identifier"] == "sqlite3" and list(bag.glob("*.db3"))
    assert len(read_flight(bag).t) == card["flights"][0]["stats"]["samples"]


@pytest.mark.parametrize("argv, message", [
    (["--flights", "0", "--duration", "5"], "--flights: expected a positive integer"),
    (["--flights", "2", "--duration", "abc"], "--duration: expected a positive number"),
    (["--flights", "2", "--duration", "5", "--families", "vector,spiral"], "unknown family spiral"),
    (["--flights", "2", "--duration", "5", "--noise", "radar"], "invalid choice: 'radar'"),
    (["--flights", "2", "--duration", "5", "--format", "csv"], "invalid choice: 'csv'"),
    (["--flights", "2", "--duration", "5", "--rate", "5000"], "--rate must be within"),
])
def test_bad_arguments_exit_nonzero_with_message(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_refuses_non_empty_folder_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit):
        main(["--flights", "1", "--duration", "1", "--out", str(tmp_path)])
    assert "not empty" in capsys.readouterr().err
    assert main(["--flights", "1", "--duration", "1", "--out", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_console_script_reports_error_and_exit_status(tmp_path, console_script):
    proc = subprocess.run([console_script("uav-traj"), "generate", "--flights", "-3", "--duration", "5",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--flights" in proc.stderr


def test_same_seed_writes_identical_files(tmp_path):
    for name in ("a", "b"):
        assert main(["--flights", "2", "--duration", "2", "--out", str(tmp_path / name), "--seed", "9",
                     "--noise", "vio"]) == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(files) == 3
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

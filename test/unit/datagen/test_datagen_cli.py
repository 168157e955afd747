"""`uav-traj datagen run|check` (embedded-sim backend); the datagen_commander node:
test/integration/test_datagen_node.py."""
import yaml

from uav_traj_predictor.datagen import preflight
from uav_traj_predictor.datagen.cli import main

def test_run_sim_prints_tracking_table_and_writes_outputs(tmp_path, datagen_short_config, capsys):
    out = tmp_path / "out"
    code = main(["run", "--backend", "sim", "--config", str(datagen_short_config), "--out", str(out),
                 "--trajectories", "2", "--seed", "5"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "rmse m" in printed and "final state DONE; 2 flown, 0 skipped" in printed
    card = yaml.safe_load((out / "card.yaml").read_text())
    assert card["seed"] == 5 and len(card["trajectories"]) == 2
    assert len(list((out / "trajectories").glob("*.tum"))) == 2
    # a second run into the same folder is refused (exit 2), not overwritten
    assert main(["run", "--backend", "sim", "--config", str(datagen_short_config), "--out", str(out)]) == 2


def test_run_rejects_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("families: [loops]\n")
    assert main(["run", "--backend", "sim", "--config", str(bad)]) == 2
    assert "unknown reference family 'loops'" in capsys.readouterr().err
    bad.write_text("vehicle: {profile: default, wings: 2}\n")
    assert main(["run", "--backend", "sim", "--config", str(bad)]) == 2
    assert "vehicle: unknown settings ['wings']" in capsys.readouterr().err


def test_check_reports_each_missing_item_with_its_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PX4_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))                       # no gz
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))          # no ros_gz_bridge
    assert main(["check"]) == 1
    report = capsys.readouterr().out
    for name, fix in [("PX4-Autopilot", "git clone --recursive https://github.com/PX4/PX4-Autopilot.git"),
                      ("gz (Gazebo)", "gz-harmonic"), ("ros_gz_bridge", "ros-jazzy-ros-gz-bridge")]:
        assert f"[MISSING] {name}" in report and fix in report
    assert "missing for the PX4/Gazebo path" in report


def test_check_passes_with_a_complete_setup(tmp_path, monkeypatch, capsys):
    px4 = tmp_path / "PX4-Autopilot"
    (px4 / "Tools" / "simulation" / "gz").mkdir(parents=True)
    (px4 / "Makefile").write_text("")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "gz").write_text("#!/bin/sh\n")
    (bindir / "gz").chmod(0o755)
    prefix = tmp_path / "ros"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / "ros_gz_bridge").write_text("")
    (prefix / "lib" / "ros_gz_bridge").mkdir(parents=True)
    (prefix / "lib" / "ros_gz_bridge" / "parameter_bridge").write_text("")
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    monkeypatch.setattr(preflight, "check_launch", lambda: preflight.Check("ros2 launch", True, "faked"))
    monkeypatch.setattr(preflight, "check_mavsdk", lambda: preflight.Check("mavsdk", True, "faked"))
    assert main(["check", "--px4-dir", str(px4)]) == 0
    report = capsys.readouterr().out
    assert "MISSING" not in report and "SITL not built yet" in report and "PX4/Gazebo path ready" in report


def test_mavsdk_check_names_the_installed_version():
    check = preflight.check_mavsdk()
    if check.ok:
        assert "native library libcmavsdk.so bundled" in check.detail
    else:
        assert "pip install" in check.fix

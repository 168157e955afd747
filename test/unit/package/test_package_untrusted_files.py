"""Untrusted files (issue 9): checkpoints, configs, flight files and bags from outside must be refused
with a clear one-line error and a non-zero exit, never run code and never end in a bare traceback.

The CLIs are called in-process through their `main(argv)` (exit status and stderr as the console script
would give them: an escaping exception is a traceback) except where the process itself matters
(`predictor_node`: test/integration/test_nodes_untrusted_files.py).
"""
import contextlib
import io
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch
import yaml

from helpers import REPO
from helpers.untrusted import assert_clear_failure, untrusted_files
from uav_traj_predictor.model import CheckpointError, load_checkpoint



def run_main(main, argv):
    """(exit status, stderr) of a CLI `main(argv)` as its console script would end: an escaping exception
    prints a traceback (status 1), SystemExit(str) prints the string (status 1)."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
            if isinstance(code, str):
                print(code, file=err)
                code = 1
        except Exception:  # noqa: BLE001 - what the user would see
            traceback.print_exc(file=err)
            code = 1
    return code, err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """helpers.untrusted.untrusted_files: good and bad checkpoints, a marker path, a good flight."""
    return untrusted_files(tmp_path_factory.mktemp("untrusted"))


BAD_CHECKPOINTS = ["custom_class", "reduce_raw_pickle", "reduce_torch_zip", "truncated", "garbage", "empty",
                   "mismatched", "nan_weights"]


# ---- checkpoints ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_load_checkpoint_refuses_untrusted_files(files, kind):
    path = files["bad"][kind]
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message.split(": ", 1)[0]
    if kind in ("custom_class", "reduce_torch_zip"):
        assert "objects other than tensors" in message
    if kind in ("reduce_raw_pickle", "truncated", "garbage", "empty"):     # no torch archive at all
        assert "not a checkpoint" in message and "objects other than tensors" not in message
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message, \
        "the message suggests turning safe loading off"
    assert "add_safe_globals" not in message and "trusted source" not in message
    assert not files["marker"].exists(), "loading executed a pickled payload"


def test_checkpoint_loading_uses_weights_only(files, monkeypatch):
    seen = []
    original = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)
    monkeypatch.setattr(torch, "load", spy)
    load_checkpoint(files["good"])
    assert seen == [True]


@pytest.mark.parametrize("kind", ["reduce_torch_zip", "truncated", "mismatched"])
def test_evaluate_cli_refuses_bad_checkpoint(files, kind):
    from uav_traj_predictor.evaluate.cli import main
    code, stderr = run_main(main, [str(files["flight"]), "--methods", "model", "--quiet",
                                   "--checkpoint", str(files["bad"][kind])])
    assert_clear_failure(code, stderr, str(files["bad"][kind]))
    assert stderr.lstrip().startswith("uav-traj evaluate: error:")
    assert not files["marker"].exists()


def test_train_init_refuses_pickled_checkpoint_without_running_it(files, tmp_path):
    from uav_traj_predictor.train.cli import main
    code, stderr = run_main(main, ["--config", str(REPO / "config" / "train_tiny.yaml"), "--out", str(tmp_path),
                                   "--quiet", "--epochs", "1", "--init", str(files["bad"]["reduce_torch_zip"])])
    assert code not in (0, None) and "objects other than tensors" in stderr
    assert not files["marker"].exists() and not list(tmp_path.glob("*.pt"))


def test_train_init_bad_checkpoint_has_no_traceback(files, tmp_path):
    from uav_traj_predictor.train.cli import main
    code, stderr = run_main(main, ["--config", str(REPO / "config" / "train_tiny.yaml"), "--out", str(tmp_path),
                                   "--quiet", "--epochs", "1", "--init", str(files["bad"]["truncated"])])
    assert_clear_failure(code, stderr, str(files["bad"]["truncated"]))


# ---- configs ---------------------------------------------------------------------------------------
def train_config(tmp_path, **changes) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "train_tiny.yaml").read_text())
    cfg.update(changes)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("text, needle", [("seed: [unclosed\n", "cannot read config"),
                                          ("- just\n- a list\n", "lacks"),
                                          ("seed: 0\nrate: 10.0\n", "lacks")])
def test_train_refuses_unreadable_or_incomplete_config(tmp_path, text, needle):
    from uav_traj_predictor.train.cli import main
    (tmp_path / "train.yaml").write_text(text)
    code, stderr = run_main(main, ["--config", str(tmp_path / "train.yaml"), "--out", str(tmp_path), "--quiet"])
    assert_clear_failure(code, stderr, needle, "train.yaml")


@pytest.mark.parametrize("changes", [{"rate": "fast"}, {"model": "big"}, {"seed": [1]}])
def test_train_refuses_wrong_types_clearly(tmp_path, changes):
    from uav_traj_predictor.train.cli import main
    code, stderr = run_main(main, ["--config", str(train_config(tmp_path, **changes)), "--out", str(tmp_path),
                                   "--quiet", "--epochs", "1"])
    assert_clear_failure(code, stderr, next(iter(changes)))


# ---- flight files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("content, needle", [
    ("1 2 3\nhello world\n", "line 1"),
    ("", "empty"),
    ("# only a comment\n", "no numeric rows"),
    ("\x00\x01\x02binary\xff\n", "binary"),
])
def test_evaluate_refuses_malformed_flight_files(tmp_path, content, needle):
    from uav_traj_predictor.evaluate.cli import main
    path = tmp_path / "flight.txt"
    path.write_bytes(content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content)
    code, stderr = run_main(main, [str(path), "--methods", "cv", "--quiet"])
    assert_clear_failure(code, stderr, "flight.txt", needle)


def test_evaluate_flight_with_only_non_finite_rows_is_reported(tmp_path):
    from uav_traj_predictor.evaluate.cli import main
    path = tmp_path / "flight.txt"
    path.write_text("0 nan nan nan 0 0 0 1\n1 inf 0 0 0 0 0 1\n")
    code, stderr = run_main(main, [str(path), "--methods", "cv", "--quiet"])
    assert "flight.txt" in stderr and "non-finite" in stderr, stderr


def test_evaluate_missing_path(tmp_path):
    from uav_traj_predictor.evaluate.cli import main
    code, stderr = run_main(main, [str(tmp_path / "nope.txt"), "--methods", "cv", "--quiet"])
    assert_clear_failure(code, stderr, "nope.txt")


# ---- bags ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bag(files):
    from uav_traj_predictor.bags.from_flight import write_flights_bag
    from uav_traj_predictor.data import read_flight
    out = files["folder"] / "bag"
    write_flights_bag([read_flight(files["flight"])], out, topic="/uav1/odom")
    return out


def bag_eval(bag_path, tmp_path, *extra):
    from uav_traj_predictor.bags.cli import main
    return run_main(main, ["eval", str(bag_path), "--json", str(tmp_path / "report.json"), *extra])


def test_bag_eval_refuses_pickled_checkpoint(files, bag, tmp_path):
    code, stderr = bag_eval(bag, tmp_path, "--methods", "model", "--checkpoint",
                            str(files["bad"]["reduce_torch_zip"]))
    assert_clear_failure(code, stderr, "objects other than tensors")
    assert not files["marker"].exists() and not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("damage", ["truncated_storage", "garbage_metadata", "no_storage", "not_a_bag"])
def test_bag_eval_refuses_damaged_bags(bag, tmp_path, damage):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(bag, broken)
    storage = next(p for p in broken.iterdir() if p.suffix in (".mcap", ".db3"))
    if damage == "truncated_storage":
        storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 3])
    elif damage == "garbage_metadata":
        (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: [\x00 not yaml")
    elif damage == "no_storage":
        storage.unlink()
    else:
        shutil.rmtree(broken)
        broken.mkdir()
        (broken / "notes.txt").write_text("hello")
    code, stderr = bag_eval(broken, tmp_path, "--methods", "cv")
    assert_clear_failure(code, stderr, "uav-traj bag eval: error:")


@pytest.mark.parametrize("content", ["1.0 2.0 three\n", "\x00\x01garbage\x02"])
def test_train_with_malformed_data_file_exits_with_one_line(tmp_path, content):
    bad = tmp_path / "bad_flight.txt"
    bad.write_text(content)
    result = subprocess.run([str(Path(sys.executable).parent / "uav-traj"), "train", "--config",
                             str(REPO / "config" / "train_tiny.yaml"), "--data", str(bad), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "uav-traj train: error: training data:" in result.stderr and "bad_flight.txt" in result.stderr

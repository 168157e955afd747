"""Lint: ruff (pinned in requirements.txt, settings in ruff.toml: line length 120, pycodestyle + pyflakes)
over the package, the kernels, the benchmarks, the tests, the launch files and the tools."""
import subprocess
import sys

from helpers import REPO

LINTED = ["uav_traj_predictor/", "kernels/", "bench/", "test/", "launch/", "tools/"]


def ruff(*args, stdin=None):
    result = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, input=stdin, capture_output=True,
                            text=True, timeout=120)
    assert "No module named ruff" not in result.stderr, "ruff is not installed: pip install -r requirements.txt"
    return result


def test_ruff_finds_nothing():
    result = ruff("check", "--no-cache", *LINTED)
    assert result.returncode == 0, f"ruff findings (fix them, or configure ruff.toml with a reason):\n" \
                                   f"{result.stdout}{result.stderr}"


def test_ruff_uses_the_repository_settings():
    """The settings are in force: 120 characters pass, 121 do not; an unused import is a finding."""
    fits = "x = " + repr("a" * (120 - 6)) + "\n"
    assert len(fits) == 121
    assert ruff("check", "--no-cache", "--stdin-filename", "tools/probe.py", "-", stdin=fits).returncode == 0
    too_long = ruff("check", "--no-cache", "--stdin-filename", "tools/probe.py", "-", stdin="y" + fits[:-1] + "\n")
    assert too_long.returncode == 1 and "E501" in too_long.stdout, too_long.stdout
    unused = ruff("check", "--no-cache", "--stdin-filename", "tools/probe.py", "-", stdin="import os\n")
    assert unused.returncode == 1 and "F401" in unused.stdout, unused.stdout

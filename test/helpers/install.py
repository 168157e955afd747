"""What the install tests share: the lookup `ros2 launch` / `ros2 run` make for our executables."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import REPO


LOOKUP = textwrap.dedent("""
    # What launch_ros's ExecutableInPackage does for Node(package=..., executable=...) (and `ros2 run`):
    # get_package_prefix, then <prefix>/lib/<package>/<executable>, found with shutil.which on that folder.
    import json, os, shutil, sys
    from ament_index_python.packages import get_package_prefix
    prefix = get_package_prefix("uav_traj_predictor")
    libexec = os.path.join(prefix, "lib", "uav_traj_predictor")
    found = {name: shutil.which(name, path=libexec) for name in sys.argv[1:]}
    print(json.dumps({"prefix": prefix, "libexec_exists": os.path.isdir(libexec), "found": found}))
""")


def launch_lookup_problems(env, expected_prefix):
    """Problems of the launch_ros lookup of every console script under `env`; each found executable must also
    be executable and answer --help (exit 0, a usage line) without starting ROS."""
    import json
    names = console_script_names()
    run = subprocess.run([sys.executable, "-c", LOOKUP, *names], env=env, cwd="/", capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    problems = []
    if Path(result["prefix"]).resolve() != Path(expected_prefix).resolve():
        problems.append(f"package prefix {result['prefix']}, expected {expected_prefix}")
    if not result["libexec_exists"]:
        problems.append(f"no libexec directory {result['prefix']}/lib/uav_traj_predictor")
    for name, path in result["found"].items():
        if path is None:
            problems.append(f"{name}: not found in lib/uav_traj_predictor")
            continue
        if not os.access(path, os.X_OK):
            problems.append(f"{path}: not executable")
        helped = subprocess.run([path, "--help"], env=env, cwd="/", capture_output=True, text=True, timeout=120)
        if helped.returncode != 0 or "usage" not in helped.stdout.lower():
            problems.append(f"{path} --help: exit {helped.returncode}, {(helped.stdout + helped.stderr)[-400:]}")
    return problems


def console_script_names():
    lines = (REPO / "resource" / "entry_points.txt").read_text().splitlines()
    return [line.split("=")[0].strip() for line in lines if "=" in line]

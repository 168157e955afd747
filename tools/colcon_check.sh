#!/usr/bin/env bash
# Build this package as a ROS 2 user would: cloned into src/ of a throw-away colcon workspace,
# `colcon build` against the ROS 2 underlay (here: the project venv's ROS wheels), then import the
# generated messages and the package from the install space. Usage: tools/colcon_check.sh [WORKSPACE]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="$repo/.venv"
ws=${1:-$(mktemp -d /tmp/uav_traj_colcon.XXXXXX)}
mkdir -p "$ws/src/uav_traj_predictor"
# Tracked and untracked-but-not-ignored files, as a fresh clone would have them.
(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$ws/src/uav_traj_predictor")
export AMENT_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH"
cd "$ws"
"$venv/bin/colcon" build --merge-install --event-handlers console_cohesion- \
  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$venv/bin/python" > "$ws/colcon.log" 2>&1 \
  || { tail -60 "$ws/colcon.log"; echo "colcon build failed (log: $ws/colcon.log)"; exit 1; }
site=$(ls -d "$ws"/install/lib/python3*/site-packages)
for f in "$site/uav_traj_predictor/msg/_predicted_trajectory.py" "$site/uav_traj_predictor/msg/_predicted_trajectory_array.py" \
         "$site/uav_traj_predictor/msg/_target_array.py" "$site/uav_traj_predictor/kernels/__init__.py" \
         "$ws/install/share/uav_traj_predictor/package.xml" "$ws/install/lib/uav_traj_predictor/predictor_node" \
         "$ws/install/share/ament_index/resource_index/packages/uav_traj_predictor"; do
  [ -e "$f" ] || { echo "colcon install is missing $f"; exit 1; }
done
# Import from the install space, not the venv copy: the overlay comes first, as `source install/setup.bash` does.
(cd / && AMENT_PREFIX_PATH="$ws/install:$venv" PYTHONPATH="$site" LD_LIBRARY_PATH="$ws/install/lib" "$venv/bin/python" -c "
import uav_traj_predictor, uav_traj_predictor.kernels, uav_traj_predictor.kernels.fused as fused
assert fused.available(), 'the C fast path (kernels/cstream.c) was not built'
from uav_traj_predictor.msg import PredictedTrajectory, PredictedTrajectoryArray, TargetArray
from ament_index_python.packages import get_package_share_directory
assert uav_traj_predictor.__file__.startswith('$site'), uav_traj_predictor.__file__
print('colcon install OK:', get_package_share_directory('uav_traj_predictor'), PredictedTrajectory.__name__)
")

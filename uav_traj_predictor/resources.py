"""Locate the package's installed data files (share/uav_traj_predictor/...).

Resolution order: ament_index_python (a sourced ROS 2 workspace or AMENT_PREFIX_PATH), then the
running interpreter's prefix (the pip/venv install, which needs no environment variables), then the
source tree (a checkout used without installing). No absolute paths are baked in.
"""
import os
import sys
from pathlib import Path

from . import PACKAGE_NAME

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def share_dir() -> Path:
    """The package's share directory."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            return Path(get_package_share_directory(PACKAGE_NAME))
        except (PackageNotFoundError, ValueError, LookupError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            pass
    except ImportError:
        pass
    prefix_share = Path(sys.prefix) / "share" / PACKAGE_NAME
    if (prefix_share / "package.xml").is_file():
        return prefix_share
    if (SOURCE_ROOT / "package.xml").is_file():
        return SOURCE_ROOT
    raise FileNotFoundError(
        f"cannot find share/{PACKAGE_NAME}: not in AMENT_PREFIX_PATH={os.environ.get('AMENT_PREFIX_PATH', '')!r}, "
        f"nor under {sys.prefix}; install the package (make install or colcon build)")


def share_path(*parts: str) -> Path:
    """A file under the share directory, e.g. share_path('config', 'predictor.yaml')."""
    path = share_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (package data file {'/'.join(parts)!r})")
    return path

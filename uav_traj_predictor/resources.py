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


def package_share_dir(package: str) -> Path | None:
    """share/<package> of an installed ROS 2 package (ours or an interface package such as
    visualization_msgs): through ament_index_python, else under the interpreter's prefix; None if neither."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            return Path(get_package_share_directory(package))
        except (PackageNotFoundError, ValueError, LookupError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            pass
    except ImportError:
        pass
    prefix_share = Path(sys.prefix) / "share" / package
    return prefix_share if (prefix_share / "package.xml").is_file() else None


def share_dir() -> Path:
    """The package's share directory."""
    found = package_share_dir(PACKAGE_NAME)
    if found is not None:
        return found
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

"""Point the ROS wheels' exported CMake files at this interpreter's Python and numpy headers.

The `ros-<distro>-*` wheels export `*__rosidl_generator_pyExport.cmake` files that name the wheel
builder's include directories (/opt/python/cpXY-cpXY/...). Building a message package against them
(rosidl_generate_interfaces) needs the local ones. Idempotent.
"""
import re
import sys
import sysconfig
from pathlib import Path

import numpy


def main(prefix: str) -> int:
    local = f"{sysconfig.get_paths()['include']};{numpy.get_include()}"
    pattern = re.compile(r'INTERFACE_INCLUDE_DIRECTORIES "/opt/python/[^"]*"')
    changed = 0
    for path in Path(prefix, "share").glob("*/cmake/*__rosidl_generator_pyExport.cmake"):
        text = path.read_text()
        new = pattern.sub(f'INTERFACE_INCLUDE_DIRECTORIES "{local}"', text)
        if new != text:
            path.write_text(new)
            changed += 1
    print(f"fix_ros_wheel_cmake: {changed} exported CMake files re-pointed to {local}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else sys.prefix))

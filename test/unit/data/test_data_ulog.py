"""PX4 ULog reader: the test writes minimal valid .ulg files (header, flag bits, formats,
subscriptions, data) byte by byte, following the ULog spec as pyulog reads it."""
import struct

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor.data import FlightFormatError, detect_format, read_flight

STRUCT_CODES = {"uint64_t": "Q", "float": "f", "bool": "?", "uint8_t": "B", "double": "d"}
LOCAL_POSITION = [("uint64_t", "timestamp"), ("float", "x"), ("float", "y"), ("float", "z"),
                  ("float", "vx"), ("float", "vy"), ("float", "vz"), ("bool", "xy_valid"), ("bool", "z_valid")]
ODOMETRY = [("uint64_t", "timestamp"), ("uint64_t", "timestamp_sample"), ("float[3]", "position"),
            ("float[4]", "q"), ("float[3]", "velocity"), ("uint8_t", "pose_frame"), ("uint8_t", "velocity_frame")]


def message(kind: str, payload: bytes) -> bytes:
    return struct.pack("<HB", len(payload), ord(kind)) + payload


def pack_row(fields, values) -> bytes:
    out = b""
    for (type_name, _), value in zip(fields, values):
        base, _, count = type_name.partition("[")
        code = STRUCT_CODES[base]
        out += struct.pack(f"<{int(count[:-1])}{code}", *value) if count else struct.pack("<" + code, value)
    return out


def write_ulog(path, topics: dict):
    """topics: name -> (fields [(type, name)], rows [tuple of values]); one subscription each."""
    out = b"ULog\x01\x12\x35" + struct.pack("<BQ", 1, 0)
    out += message("B", bytes(16) + struct.pack("<3Q", 0, 0, 0))
    for name, (fields, _) in topics.items():
        out += message("F", f"{name}:{''.join(f'{t} {n};' for t, n in fields)}".encode())
    for msg_id, name in enumerate(topics):
        out += message("A", struct.pack("<BH", 0, msg_id) + name.encode())
    for msg_id, (fields, rows) in enumerate(topics.values()):
        for row in rows:
            out += message("D", struct.pack("<H", msg_id) + pack_row(fields, row))
    path.write_bytes(out)
    return path


def local_position_rows(n=50):
    rows = []
    for i in range(n):
        x_ned, y_ned, z_ned = 1.0 * i * 0.02, 2.0 * i * 0.02, -5.0 - 0.5 * i * 0.02
        rows.append((1_000_000 + i * 20_000, x_ned, y_ned, z_ned, 1.0, 2.0, -0.5, i != 10, True))
    return rows


def test_local_position_is_converted_to_enu(tmp_path):
    path = write_ulog(tmp_path / "log.ulg", {"vehicle_local_position": (LOCAL_POSITION, local_position_rows())})
    assert detect_format(path) == "ulog"
    flight = read_flight(path)
    assert len(flight) == 49 and flight.report.dropped == {"invalid estimate": 1}
    assert flight.t[0] == pytest.approx(1.0) and flight.t[1] - flight.t[0] == pytest.approx(0.02)
    np.testing.assert_allclose(flight.p[1], [2 * 0.02, 1 * 0.02, 5.0 + 0.5 * 0.02], rtol=1e-6)
    np.testing.assert_allclose(flight.v, np.tile([2.0, 1.0, 0.5], (49, 1)))
    np.testing.assert_allclose(np.diff(flight.p, axis=0)[:5] / 0.02, flight.v[:5], rtol=1e-4)


def test_odometry_body_velocity_rotated_to_world_and_attitude_to_flu_enu(tmp_path):
    yaw_ned = np.deg2rad(30.0)  # nose 30 deg east of north
    q_wxyz = Rotation.from_euler("z", yaw_ned).as_quat(scalar_first=True)
    rows = [(2_000_000 + i * 10_000, 2_000_000 + i * 10_000 - 500, (0.1 * i, 0.0, -3.0), tuple(q_wxyz),
             (1.0, 0.0, 0.0), 1, 3) for i in range(20)]
    path = write_ulog(tmp_path / "odom.ulg", {"vehicle_odometry": (ODOMETRY, rows)})
    flight = read_flight(path, fmt="ulog")
    assert len(flight) == 20 and flight.t[0] == pytest.approx(2.0 - 0.0005)
    np.testing.assert_allclose(flight.p[3], [0.0, 0.3, 3.0], atol=1e-6)
    # 1 m/s forward at heading 30 deg from north: east = sin 30, north = cos 30
    np.testing.assert_allclose(flight.v[0], [np.sin(yaw_ned), np.cos(yaw_ned), 0.0], atol=1e-6)
    forward_enu = Rotation.from_quat(flight.q[0]).apply([1.0, 0.0, 0.0])
    np.testing.assert_allclose(forward_enu, [np.sin(yaw_ned), np.cos(yaw_ned), 0.0], atol=1e-6)


def test_topic_choice_and_missing_topic(tmp_path):
    rows = local_position_rows(5)
    path = write_ulog(tmp_path / "other.ulg", {"sensor_gyro": ([("uint64_t", "timestamp"), ("float", "x")],
                                                               [(r[0], 0.0) for r in rows])})
    with pytest.raises(FlightFormatError, match="other.ulg.*no vehicle_local_position or vehicle_odometry"):
        read_flight(path)


@pytest.mark.parametrize("content", [b"", b"ULog\x01\x12", b"\x00\x01garbage" * 10])
def test_bad_ulog_raises_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.ulg"
    path.write_bytes(content)
    with pytest.raises(FlightFormatError, match="bad.ulg"):
        read_flight(path)


def test_truncated_ulog_keeps_the_complete_messages(tmp_path):
    path = write_ulog(tmp_path / "cut.ulg", {"vehicle_local_position": (LOCAL_POSITION, local_position_rows(30))})
    path.write_bytes(path.read_bytes()[:-7])
    flight = read_flight(path)
    assert len(flight) == 28  # 30 rows, one flagged invalid, the last one cut off

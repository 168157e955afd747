"""Text readers (TUM, EuRoC CSV, VECTOR CSV), format detection, bad files, the real flights."""
import numpy as np
import pytest

from uav_traj_predictor.data import FlightFormatError, detect_format, read_flight, read_flights

TUM = """# timestamp tx ty tz qx qy qz qw
1.00 1.0 2.0 3.0 0 0 0 1
1.01 1.1 2.1 3.1 0 0 0 1 0.5 0.6 0.7
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def tum_text(n=50, extra=0, rate=100.0):
    rows = []
    for i in range(n):
        t = 1000.0 + i / rate
        values = [t, 0.1 * i, -0.2 * i, 1.0, 0.0, 0.0, 0.0, 1.0] + [10.0 + c for c in range(extra)]
        rows.append(" ".join(f"{v:.6f}" for v in values))
    return "# timestamp tx ty tz qx qy qz qw\n" + "\n".join(rows) + "\n"


def test_tum_reads_positions_quaternions_and_ignores_extra_columns(tmp_path):
    flight = read_flight(write(tmp_path, "a.txt", tum_text(50, extra=3)))
    assert flight.name == "a" and len(flight) == 50 and flight.v is None and flight.extra is None
    np.testing.assert_allclose(flight.p[3], [0.3, -0.6, 1.0])
    np.testing.assert_allclose(flight.q[0], [0, 0, 0, 1])
    assert flight.t[1] == pytest.approx(1000.01) and flight.report.kept == 50 and not flight.report.dropped


def test_tum_extra_columns_become_velocities_when_asked(tmp_path):
    flight = read_flight(write(tmp_path, "a.txt", tum_text(20, extra=4)), extra_columns=True)
    np.testing.assert_allclose(flight.v, np.tile([10.0, 11.0, 12.0], (20, 1)))
    assert flight.extra.shape == (20, 4)


def test_tum_partially_bad_file_keeps_good_rows_and_counts_drops(tmp_path):
    text = tum_text(10) + "1000.5 oops 0 0 0 0 0 1\n" + "1000.6 1 2 3\n" + "1000.7 nan 0 0 0 0 0 1\n"
    flight = read_flight(write(tmp_path, "bad.txt", text))
    assert len(flight) == 10
    assert flight.report.dropped == {"malformed line": 1, "wrong column count": 1, "non-finite": 1}
    assert any("line 12" in note for note in flight.report.notes)


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ("# only a comment\n\n", "no numeric rows"),
    ("# t x y z\n1 2 3 4\n5 6 7 8\n", "line 2: expected at least 8 columns, got 4"),
    ("a b c d e f g h\nfoo bar\n", "no numeric rows"),
    (b"\x89\x00\xff\xfe garbage \x00\x01" * 50, "binary"),
    (b"\xff\xfe\xfa not utf8 at all", "line 1: not UTF-8"),
])
def test_bad_tum_files_raise_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, "bad.txt", content)
    with pytest.raises(FlightFormatError, match=message) as err:
        read_flight(path, fmt="tum")
    assert str(path) in str(err.value)


def test_first_line_with_numbers_is_data_not_a_header(tmp_path):
    flight = read_flight(write(tmp_path, "a.txt", "oops 1 2 3 0 0 0 1\n" + tum_text(5).split("\n", 1)[1]))
    assert len(flight) == 5 and flight.report.dropped == {"malformed line": 1}
    assert "line 1" in flight.report.notes[0]
    headed = read_flight(write(tmp_path, "b.txt", "timestamp tx ty tz qx qy qz qw\n" + tum_text(5).split("\n", 1)[1]))
    assert len(headed) == 5 and not headed.report.dropped


def test_detected_format_still_reports_garbage(tmp_path):
    with pytest.raises(FlightFormatError, match="garbage.txt: binary"):
        read_flight(write(tmp_path, "garbage.txt", bytes(range(256)) * 4))
    with pytest.raises(FlightFormatError, match="expected at least 8 columns"):
        read_flight(write(tmp_path, "four.txt", "1 2 3 4\n2 3 4 5\n"))


def test_missing_file_raises(tmp_path):
    with pytest.raises(FlightFormatError, match="no such file"):
        read_flight(tmp_path / "nope.txt")
    with pytest.raises(FlightFormatError, match="no such file"):
        read_flight(tmp_path / "nope.txt", fmt="tum")


def test_unknown_format_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown flight format"):
        read_flight(write(tmp_path, "a.txt", TUM), fmt="kml")


def test_euroc_csv(tmp_path):
    header = ("#timestamp [ns],p_RS_R_x [m],p_RS_R_y [m],p_RS_R_z [m],q_RS_w [],q_RS_x [],q_RS_y [],"
              "q_RS_z [],v_RS_R_x [m s^-1],v_RS_R_y [m s^-1],v_RS_R_z [m s^-1],b_w_RS_S_x [rad s^-1],"
              "b_w_RS_S_y [rad s^-1],b_w_RS_S_z [rad s^-1],b_a_RS_S_x [m s^-2],b_a_RS_S_y [m s^-2],"
              "b_a_RS_S_z [m s^-2]\n")
    rows = [f"{1403636580838555648 + i * 5000000},{0.1 * i},2,3,0.5,0.1,0.2,0.3,1,2,3,0,0,0,0,0,0"
            for i in range(30)]
    path = write(tmp_path, "data.csv", header + "\n".join(rows) + "\n")
    assert detect_format(path) == "euroc"
    flight = read_flight(path)
    assert len(flight) == 30
    assert flight.t[1] - flight.t[0] == pytest.approx(0.005, abs=1e-6)
    np.testing.assert_allclose(flight.q[0], [0.1, 0.2, 0.3, 0.5])  # reordered to x, y, z, w
    np.testing.assert_allclose(flight.v[0], [1, 2, 3])
    np.testing.assert_allclose(flight.p[2], [0.2, 2, 3])


def test_vector_csv(tmp_path):
    rows = [f"{0.1 * i:.1f},{i},{2 * i},{5.0}" for i in range(40)]
    path = write(tmp_path, "traj_0001.csv", "timestamp,tx,ty,tz\n" + "\n".join(rows) + "\n")
    assert detect_format(path) == "vector"
    flight = read_flight(path)
    assert len(flight) == 40 and flight.v is None and flight.q is None
    np.testing.assert_allclose(flight.p[3], [3, 6, 5])
    with pytest.raises(FlightFormatError, match="columns"):
        read_flight(write(tmp_path, "short.csv", "timestamp,tx\n0,1\n1,2\n"), fmt="vector")


def test_detection_of_tum_and_read_flights_searches_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "b.txt", tum_text(5))
    write(tmp_path, "a.txt", tum_text(7))
    write(tmp_path, "notes.md", "not a flight")
    flights = read_flights(tmp_path)
    assert [(f.name, len(f)) for f in flights] == [("a", 7), ("b", 5)]
    assert detect_format(tmp_path / "a.txt") == "tum"


def test_every_real_flight_reads(flights_dir):
    flights = read_flights(flights_dir)
    assert len(flights) == 10
    for flight in flights:
        assert len(flight) > 2900 and not flight.report.dropped, flight.name
        rate = (len(flight) - 1) / flight.duration
        assert 90 < rate < 520, (flight.name, rate)
        assert np.isfinite(flight.p).all() and np.abs(flight.p).max() < 100
        assert flight.q.shape == (len(flight), 4)
        np.testing.assert_allclose(np.linalg.norm(flight.q, axis=1), 1.0, atol=1e-3)


def test_blackbird_velocity_columns_match_finite_differences(flights_dir):
    (path,) = (flights_dir / "blackbird").glob("*_test_*.txt")
    assert read_flight(path).v is None
    flight = read_flight(path, extra_columns=True)
    assert flight.v.shape == (3000, 3)
    finite_difference = np.gradient(flight.p, flight.t, axis=0)
    error = np.median(np.linalg.norm(flight.v - finite_difference, axis=1))
    assert error < 0.1 * np.median(np.linalg.norm(flight.v, axis=1))

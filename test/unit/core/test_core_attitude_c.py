"""kernels/trackcore.c AttitudeCore, the C twin of TrackBank._attitude and data/attitude.py's ThrustAxis: the same
queued 10-value grid samples bit for bit (==) over faulty multi-vehicle streams with orientations of every kind,
the same attitude states and predictions, and the same steps as ThrustAxis.step on long random sequences."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor.core import TrackBank
from uav_traj_predictor.core import tracks as _tracks
from uav_traj_predictor.data import PreprocessConfig
from uav_traj_predictor.data.attitude import ThrustAxis, unit_quaternion
from uav_traj_predictor.model import StreamingPredictor

from helpers.attitude import weaving
from helpers.checkpoints import random_checkpoint

pytestmark = pytest.mark.skipif(_tracks.AttitudeCore is None, reason="the C extension is not built")
RATE = 10.0


@pytest.fixture(scope="module")
def attitude_checkpoint(tmp_path_factory):
    return str(random_checkpoint(tmp_path_factory.mktemp("attc") / "att.pt", features=13, scales=True, seed=5))


def random_rotation(rng):
    v = rng.normal(size=4)
    return tuple((v / np.linalg.norm(v)).tolist())


def attributes(axis):
    return (axis.available, axis.slope, axis.count, axis.axis, axis.reference, axis.weight)


@pytest.mark.parametrize("seed", range(4))
def test_the_c_step_equals_thrust_axis_step(seed):
    rng = np.random.default_rng(seed)
    mount = Rotation.from_euler("xyz", rng.uniform(-180, 180, 3), degrees=True)
    _, p, q, _ = weaving(mount, seconds=300.0, seed=seed)
    velocities = (np.diff(p, axis=0) / 0.1).tolist()
    rows = q[1:].tolist()
    reference, twin = ThrustAxis(), _tracks.AttitudeCore(_tracks.ATTITUDE_CONSTANTS)
    states = set()
    for k, velocity in enumerate(velocities):
        draw = rng.random()
        if draw < 0.01:
            reference.restart()
            twin.restart()
        orientation = unit_quaternion(rows[k])
        if draw > 0.97:
            orientation = None
        elif draw > 0.95:
            orientation = random_rotation(rng)          # a random rotation
        elif draw > 0.93:
            velocity = (rng.normal(size=3) * 20).tolist()              # noise
        dt = 0.1 if draw < 0.9 else float(rng.uniform(0.01, 1.0))
        assert twin.step(velocity, orientation, dt) == reference.step(velocity, orientation, dt)
        assert attributes(twin) == attributes(reference)
        states.add(reference.available)
    assert states == {False, True}


def orientation_variants(rng, q, k, heading_only):
    """The k-th orientation as pushed: mostly the true one (list, tuple or array), sometimes something else."""
    row = q[k]
    if heading_only:                                           # yaw only (a detector's)
        yaw = Rotation.from_quat(row).as_euler("zyx")[0]
        return tuple(Rotation.from_euler("z", yaw).as_quat().tolist())
    draw = rng.random()
    if draw < 0.80:
        return (tuple(row.tolist()), row.tolist(), row)[k % 3]
    if draw < 0.84:
        return None
    if draw < 0.86:
        return tuple((row * 1.05).tolist())                    # off unit, within the tolerance: normalised
    if draw < 0.88:
        return tuple((row * 1.5).tolist())                     # no rotation
    if draw < 0.90:
        return (math.nan, 0.0, 0.0, 1.0)
    if draw < 0.91:
        return (math.inf, 0.0, 0.0, 1.0)
    if draw < 0.93:
        return ("abc", 3, [1.0, 2.0, 3.0], (1.0, 2.0, 3.0, 4.0, 5.0), {"x": 1}, b"", object())[int(rng.integers(7))]
    if draw < 0.94:
        return tuple(str(c) for c in row.tolist())             # float() takes strings, as the reference does
    if draw < 0.95:
        return (0.0, 0.0, 0.0, True)
    if draw < 0.96:
        return (10 ** 400, 0, 0, 1)                            # float() overflows: no orientation, no exception
    return random_rotation(rng)


def vehicle_stream(rng, name, orientations=True):
    """[(stamp, position, orientation)] of one vehicle: a weaving flight through a random body mount at a random raw
    rate, with gaps, duplicates, out-of-order stamps, a heading-only stretch and bad orientations."""
    rate = float(rng.uniform(5.0, 200.0))
    mount = Rotation.from_euler("xyz", [(0, 0, 0), (0, 90, 0), (180, 0, 0), (0, -90, 0), (90, 0, 0),
                                        tuple(rng.uniform(-180, 180, 3))][int(rng.integers(6))], degrees=True)
    seconds = min(30.0, 2500 / rate)
    t, p, q, _ = weaving(mount, seconds=seconds, seed=int(rng.integers(1000)), dt=1.0 / rate)
    t = t + 100.0 + float(rng.uniform(0, 1))
    p = p + rng.normal(scale=0.01, size=p.shape)
    start_heading = int(rng.integers(len(t)))
    out = []
    shift = 0.0
    for k in range(len(t)):
        draw = rng.random()
        if draw < 0.003:
            shift += float(rng.uniform(0.3, 2.0))              # a gap: a reset
        stamp = float(t[k]) + shift
        heading = start_heading <= k < start_heading + int(3 * rate)
        orientation = orientation_variants(rng, q, k, heading) if orientations else None
        out.append((name, stamp, p[k].tolist(), orientation))
        if draw > 0.995:
            out.append((name, stamp, p[k].tolist(), orientation))                        # duplicate
        elif draw > 0.99:
            out.append((name, stamp - float(rng.uniform(0, 0.05)), p[k].tolist(), orientation))   # out of order
        elif draw > 0.989:
            out.append((name, stamp - 3.0, p[k].tolist(), orientation))                  # time backwards
    return out


def merged_streams(seed, vehicles=4):
    rng = np.random.default_rng(seed)
    samples = [s for v in range(vehicles) for s in vehicle_stream(rng, f"uav{v}", v > 0)]   # uav0: no orientation
    samples.sort(key=lambda s: s[1])                                # interleaved by stamp (bad ones stay bad)
    return samples


def assert_same(a, b):
    assert a.tracks.keys() == b.tracks.keys()
    for key, track in a.tracks.items():
        other = b.tracks[key]
        assert track.queued_velocities == other.queued_velocities
        assert track.attitude_state == other.attitude_state
        assert (track.attitude is None) == (other.attitude is None)


@pytest.mark.parametrize("seed,reference_c_core", [(0, True), (1, False), (2, True)])
def test_the_c_twin_streams_equal_the_python_reference(attitude_checkpoint, seed, reference_c_core):
    banks = []
    for c_attitude in (True, False):
        bank = TrackBank(StreamingPredictor(attitude_checkpoint, guard=0.0), PreprocessConfig(rate=RATE),
                         c_core=c_attitude or reference_c_core)
        bank.c_attitude = c_attitude
        banks.append(bank)
    twin, reference = banks
    assert twin.uses_attitude and twin.c_attitude and not reference.c_attitude
    states, pushes = set(), 0
    for k, (name, stamp, position, orientation) in enumerate(merged_streams(seed)):
        assert twin.push(name, stamp, position, orientation=orientation) == \
            reference.push(name, stamp, position, orientation=orientation)
        assert_same(twin, reference)
        assert all(len(s) == 10 for track in twin.tracks.values() for s in track.queued_velocities
                   if track.attitude is not None or s[7:])
        pushes += 1
        if k % 7 == 0:
            mine, theirs = twin.tick(stamp), reference.tick(stamp)
            assert [e for e in mine.events] == [e for e in theirs.events]
            assert len(mine.predictions) == len(theirs.predictions)
            for x, y in zip(mine.predictions, theirs.predictions):
                assert x.track_id == y.track_id and x.status == y.status
                np.testing.assert_array_equal(x.positions, y.positions)
            states.update(track.attitude_state for track in twin.tracks.values())
    assert pushes > 2000 and states == {"none", "checking", "in_use"}
    for key, track in twin.tracks.items():
        if track.attitude is not None:
            assert attributes(track.attitude) == attributes(reference.tracks[key].attitude)


def test_tracks_with_only_invalid_orientations_share_one_trial_core(attitude_checkpoint):
    """Before a track's first valid orientation the C path tries its pushes on the bank's one spare AttitudeCore
    (no allocation per push); a track that starts with invalid orientations and then sends valid ones, and one
    that never does, stream as the Python reference does."""
    rng = np.random.default_rng(11)
    t, p, q, _ = weaving(Rotation.identity(), seconds=20.0, seed=3, dt=0.02)
    banks = []
    for c_attitude in (True, False):
        bank = TrackBank(StreamingPredictor(attitude_checkpoint, guard=0.0), PreprocessConfig(rate=RATE))
        bank.c_attitude = c_attitude
        banks.append(bank)
    twin, reference = banks
    spares = set()
    for k in range(len(t)):
        late = q[k] if k >= 300 else (0.0, 0.0, 0.0, 0.0)          # valid from 6 s on
        for name, orientation in (("never", (0.0, 0.0, 0.0, 0.0)), ("late", late), ("nan", (math.nan,) * 4)):
            position = (p[k] + rng.normal(scale=0.002, size=3)).tolist()
            assert twin.push(name, float(t[k]), position, orientation=orientation) == \
                reference.push(name, float(t[k]), position, orientation=orientation)
            assert_same(twin, reference)
            spares.add(id(twin._spare_attitude))
    assert twin.tracks["never"].attitude_state == "none" and twin.tracks["late"].attitude_state != "none"
    assert isinstance(twin.tracks["late"].attitude, _tracks.AttitudeCore)
    assert len(spares - {id(None)}) <= 2          # the first spare, and the one after "late" kept the first

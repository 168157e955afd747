"""core.TrackBank with orientations: the grid samples carry the attitude input (data/attitude.py) for a model that
reads it, the streamed predictions equal the offline segment pass (C and Python raw paths), the vehicle's
estimate survives a reset, and a model without the input ignores orientations."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from uav_traj_predictor.core import TrackBank
from uav_traj_predictor.data import PreprocessConfig, preprocess
from uav_traj_predictor.model import StreamingPredictor

from helpers.attitude import weaving
from helpers.checkpoints import random_checkpoint

RATE = 10.0


@pytest.fixture(scope="module")
def attitude_checkpoint(tmp_path_factory):
    return str(random_checkpoint(tmp_path_factory.mktemp("att") / "att.pt", features=13, scales=True, seed=3))


def raw_flight(seconds=40.0, rate=50.0, mount=(0, 90, 0)):
    t, p, q, _ = weaving(Rotation.from_euler("xyz", mount, degrees=True), seconds=seconds, dt=1.0 / rate)
    return 100.0 + t, p, q


def stream(bank, t, p, q, track="uav"):
    """Push every sample with its orientation (q None: none), tick after each: {grid index: positions} of the
    predictions relative to the first stamp, and every attitude the grid samples carried."""
    out, carried = {}, []
    for i in range(len(t)):
        bank.push(track, t[i], p[i], orientation=None if q is None else q[i])
        carried += [sample[7:] for sample in bank.tracks[track].queued_velocities]
        for prediction in bank.tick().predictions:
            out[round((prediction.t0 - t[0]) * RATE)] = prediction.positions
    return out, carried


@pytest.mark.parametrize("c_core", [True, False])
def test_streaming_with_orientations_equals_the_segment_pass(attitude_checkpoint, c_core):
    t, p, q = raw_flight()
    bank = TrackBank(StreamingPredictor(attitude_checkpoint, guard=0.0), PreprocessConfig(rate=RATE), c_core=c_core)
    streamed, carried = stream(bank, t, p, q)
    assert bank.c_core == c_core and all(len(a) == 3 for a in carried)
    available = np.array([a[2] for a in carried])
    assert available[:30].sum() == 0 and available[-100:].all()      # on once the check has passed
    (segment,) = preprocess(t, p, PreprocessConfig(rate=RATE), q=q)
    np.testing.assert_allclose(np.array(carried), segment.attitude, rtol=1e-9, atol=1e-9)
    offline = StreamingPredictor(attitude_checkpoint, guard=0.0).predict_segment(segment).positions
    rows = [k for k in streamed if k < len(offline) and np.isfinite(offline[k]).all()]
    assert len(rows) > 300
    assert max(np.abs(streamed[k] - offline[k]).max() for k in rows) < 1e-5
    # the input changes the predictions: without orientations they differ
    positions_only, carried = stream(TrackBank(StreamingPredictor(attitude_checkpoint, guard=0.0),
                                               PreprocessConfig(rate=RATE), c_core=c_core), t, p, None)
    assert carried == [()] * len(carried)
    assert max(np.abs(positions_only[k] - streamed[k]).max() for k in rows) > 1e-3


def test_the_estimate_survives_a_reset_and_bad_orientations_are_no_input(attitude_checkpoint):
    t, p, q = raw_flight()
    t = np.concatenate([t[:1000], t[1000:] + 1.0])           # a 1 s gap at 20 s: a reset
    bank = TrackBank(StreamingPredictor(attitude_checkpoint), PreprocessConfig(rate=RATE))
    _, carried = stream(bank, t, p, q)
    assert bank.tracks["uav"].resets["gap"] == 1
    after = [a for a in carried[-300:]]
    assert all(a[2] == 1.0 for a in after[:5])              # on again at once: the axis and its check were kept
    assert bank.tracks["uav"].attitude_state == "in_use"
    bad = q.copy()
    bad[500:] = [0.0, 0.0, 0.0, 3.0]                         # no rotation: not an orientation
    _, carried = stream(TrackBank(StreamingPredictor(attitude_checkpoint), PreprocessConfig(rate=RATE)), t, p, bad)
    assert all(a == (0.0, 0.0, 0.0) for a in carried[110:])
    identity = np.tile([0.0, 0.0, 0.0, 1.0], (len(t), 1))   # a positions-only source's pose
    bank = TrackBank(StreamingPredictor(attitude_checkpoint), PreprocessConfig(rate=RATE))
    _, carried = stream(bank, t, p, identity)
    assert not any(a[2] for a in carried) and bank.tracks["uav"].attitude_state == "checking"


def test_a_model_without_the_input_ignores_orientations(random_checkpoint):
    t, p, q = raw_flight(seconds=15.0)
    with_q, carried = stream(TrackBank(StreamingPredictor(random_checkpoint), PreprocessConfig(rate=RATE)), t, p, q)
    without, _ = stream(TrackBank(StreamingPredictor(random_checkpoint), PreprocessConfig(rate=RATE)), t, p, None)
    assert carried == [()] * len(carried)
    assert with_q.keys() == without.keys()
    assert all(np.array_equal(with_q[k], without[k]) for k in with_q)

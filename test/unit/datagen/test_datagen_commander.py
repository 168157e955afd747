"""The commander state machine end to end on the embedded simulator: arm, take off, fly random references
from the simulator's families, boundary marks, land; the bag and TUM files it writes read back through
`data.read_flight`; retries and failure handling with injected faults."""
import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from helpers import REPO
from uav_traj_predictor.data import read_flight
from uav_traj_predictor.datagen.commander import Commander, State
from uav_traj_predictor.datagen.config import ConfigError, load_config
from uav_traj_predictor.datagen.plan import plan_trajectories
from uav_traj_predictor.datagen.recorder import MARKER_TOPIC, ODOMETRY_TOPIC
from uav_traj_predictor.datagen.run import run_datagen
from uav_traj_predictor.datagen.sim_backend import EmbeddedSimBackend
from uav_traj_predictor.sim.references import FAMILIES, ReferenceGenerator

S = State


def short_config(**overrides):
    values = dict(trajectories=2, families=["hover_dash", "vector"], duration_s=(4.0, 5.0), hover_s=0.5,
                  transit_speed=4.0, takeoff_altitude=2.0, seed=7)
    values.update(overrides)
    return load_config(**values)


def markers(bag_dir):
    with AnyReader([bag_dir]) as reader:
        connections = [c for c in reader.connections if c.topic == MARKER_TOPIC]
        return [(stamp * 1e-9, reader.deserialize(raw, c.msgtype).data)
                for c, stamp, raw in reader.messages(connections=connections)]


def test_sim_end_to_end_bag_tum_card(tmp_path):
    config = short_config()
    output = run_datagen(config, EmbeddedSimBackend(seed=config.seed), tmp_path / "run", backend_name="sim")
    result = output.result
    assert result.final_state == S.DONE, result.errors
    assert result.states == [S.IDLE, S.CONNECT, S.ARM, S.TAKEOFF, S.FLY, S.HOVER, S.FLY, S.LAND, S.DONE]
    assert len(result.flown) == 2 and not result.skipped and not result.errors

    plan = plan_trajectories(config)
    marks = markers(output.out_dir / "bag")
    assert [text for _, text in marks] == [f"start 0 {plan[0].reference.family}", "end 0",
                                           f"start 1 {plan[1].reference.family}", "end 1"]

    # the bag reads through the data room's reader: continuous ground truth covering both trajectories
    bag_flight = read_flight(output.out_dir / "bag")
    assert bag_flight.name.endswith(ODOMETRY_TOPIC) or ODOMETRY_TOPIC in bag_flight.source + bag_flight.name
    assert bag_flight.t[0] <= marks[0][0] and bag_flight.t[-1] >= marks[-1][0]
    assert np.all(np.diff(bag_flight.t) > 0), "one odometry sample per stamp"

    card = yaml.safe_load(output.card.read_text())
    assert card["seed"] == 7 and card["outcome"]["final_state"] == "DONE"
    assert card["vehicle"]["params"]["tilt_max"] == pytest.approx(np.radians(45.0))
    for record, entry, (start, _), (end, _) in zip(result.flown, card["trajectories"], marks[::2], marks[1::2]):
        tum = read_flight(output.out_dir / entry["file"], extra_columns=True)
        assert tum.report.kept == record.stats["samples"] == len(record.t)
        assert tum.t[0] == pytest.approx(start, abs=1e-6) and tum.t[-1] == pytest.approx(end, abs=1e-6)
        assert entry["family"] == record.family and entry["tracking"] == record.stats
        # TUM and bag agree on the same stamps (bag twist is body-frame, rotated back by the reader)
        index = np.searchsorted(bag_flight.t, tum.t[10])
        assert np.allclose(bag_flight.p[index], tum.p[10], atol=1e-5)
        assert np.allclose(bag_flight.v[index], tum.v[10], atol=1e-4)
        stats = record.stats
        print(f"trajectory {record.index} {record.family}: rmse {stats['rmse_m']} m, p95 {stats['p95_m']} m, "
              f"max {stats['max_m']} m, setpoints {stats['setpoint_rate_hz']} Hz")
        assert stats["setpoint_rate_hz"] >= 20.0
        assert stats["rmse_m"] < 1.0      # a gentle reference is tracked within a metre by the default x500


def test_plan_draws_from_the_shared_reference_generator():
    config = short_config(trajectories=3, families=["racing", "waypoints"], max_speed=3.0, min_altitude=2.0)
    first, again = plan_trajectories(config), plan_trajectories(config)
    assert [p.reference.family for p in first] == [p.reference.family for p in again]
    assert all(np.array_equal(a.reference.p, b.reference.p) for a, b in zip(first, again))
    for planned in first:
        ref = planned.reference
        assert ref.family in FAMILIES and ref.family in config.families
        assert np.linalg.norm(ref.v, axis=1).max() <= 3.0 + 1e-9
        assert ref.p[:, 2].min() >= 2.0 - 1e-9
        assert np.allclose(ref.p[0, :2], 0.0)                    # recentred above home
    # the same generator, seed and draw order as the simulator: the first family matches
    generator = ReferenceGenerator(seed=config.seed)
    duration = generator.rng.uniform(*config.duration_s)
    assert generator.draw_random(duration, 0.01, families=config.families).family == first[0].reference.family


def test_retries_recover_from_transient_failures():
    config = short_config(trajectories=1, retries=dict(arm=2, takeoff=1))
    backend = EmbeddedSimBackend(fail_first=dict(connect=1, arm=2, takeoff=1))
    result = Commander(backend, config, plan_trajectories(config)).run()
    assert result.final_state == S.DONE
    assert len(result.flown) == 1 and len(result.errors) == 4
    assert all("injected failure" in error for error in result.errors)


def test_persistent_failure_ends_failed_without_flying():
    config = short_config(trajectories=1, retries=dict(arm=1))
    result = Commander(EmbeddedSimBackend(fail_first=dict(arm=5)), config, plan_trajectories(config)).run()
    assert result.final_state == S.FAILED and not result.flown
    assert result.states == [S.IDLE, S.CONNECT, S.ARM, S.FAILED]


class FaultAfter(EmbeddedSimBackend):
    """Calls `fault()` once, at the `after`-th setpoint."""

    def __init__(self, after, **kwargs):
        super().__init__(**kwargs)
        self.countdown = after

    def set_setpoint(self, position, velocity, yaw):
        self.countdown -= 1
        if self.countdown == 0:
            self.fault()
        super().set_setpoint(position, velocity, yaw)


class DropsOutOnce(FaultAfter):
    """Loses the vehicle (disarmed on the ground) once, after `after` setpoints."""

    def fault(self):
        self.armed = self.in_air = False
        self.sim.reset(0, position=[self.sim.p[0, 0], self.sim.p[0, 1], 0.0])


def test_lost_vehicle_aborts_and_retries_after_rearming(tmp_path):
    config = short_config(trajectories=1, families=["hover_dash"])
    backend = DropsOutOnce(after=150)        # take-off ramp + transit + hover use ~110 setpoints
    marks = []

    class Marks:
        def odometry(self, state): ...
        def mark(self, t, text): marks.append(text)
        def trajectory(self, record): ...

    result = Commander(backend, config, plan_trajectories(config), Marks()).run()
    assert result.final_state == S.DONE and len(result.flown) == 1 and result.flown[0].attempts == 2
    assert result.states[4:] == [S.FLY, S.ARM, S.TAKEOFF, S.FLY, S.LAND, S.DONE]
    assert marks == ["start 0 hover_dash", "abort 0 vehicle disarmed", "start 0 hover_dash", "end 0"]
    assert "vehicle disarmed" in result.errors[0]


def test_unflyable_trajectory_is_skipped_after_its_retries():
    config = short_config(trajectories=1, families=["vector"], abort_error=0.05, retries=dict(trajectory=1),
                          duration_s=(3.0, 3.0))
    result = Commander(EmbeddedSimBackend(), config, plan_trajectories(config)).run()
    assert result.final_state == S.DONE and not result.flown
    assert result.skipped == [dict(index=0, family="vector", attempts=2, reason=result.skipped[0]["reason"])]
    assert "tracking error" in result.skipped[0]["reason"]


def test_between_land_lands_and_rearms(tmp_path):
    config = short_config(between="land", families=["hover_dash"])
    output = run_datagen(config, EmbeddedSimBackend(), tmp_path / "land")
    assert output.result.states == [S.IDLE, S.CONNECT, S.ARM, S.TAKEOFF, S.FLY, S.LAND, S.ARM, S.TAKEOFF,
                                     S.FLY, S.LAND, S.DONE]
    with pytest.raises(FileExistsError, match="already exists"):
        run_datagen(config, EmbeddedSimBackend(), tmp_path / "land")


def test_config_file_and_errors(tmp_path):
    shipped = load_config(REPO / "config" / "datagen.yaml")
    assert shipped.setpoint_rate >= 20 and set(shipped.families) <= set(FAMILIES)
    bad = tmp_path / "bad.yaml"
    bad.write_text("trajectoriez: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: trajectoriez: unknown key \(expected one of \[.*trajectories"):
        load_config(bad)
    with pytest.raises(ConfigError, match="between"):
        load_config(between="teleport")
    with pytest.raises(ConfigError, match="unknown reference family 'loops'"):
        load_config(families=["loops"])
    with pytest.raises(ConfigError, match="setpoint_rate"):
        load_config(setpoint_rate=5)


class InterruptedAfter(FaultAfter):
    """Raises KeyboardInterrupt (a Ctrl-C) from the `after`-th setpoint."""

    def fault(self):
        raise KeyboardInterrupt


def test_interruption_lands_and_keeps_bag_and_card(tmp_path):
    config = short_config(trajectories=1, families=["hover_dash"])
    backend = InterruptedAfter(after=150)
    with pytest.raises(KeyboardInterrupt):
        run_datagen(config, backend, tmp_path / "cut")
    assert not backend.state().in_air
    card = yaml.safe_load((tmp_path / "cut" / "card.yaml").read_text())
    assert card["outcome"]["final_state"] == "FAILED" and "KeyboardInterrupt" in card["outcome"]["errors"][-1]
    assert [text for _, text in markers(tmp_path / "cut" / "bag")] == ["start 0 hover_dash"]
    assert read_flight(tmp_path / "cut" / "bag").report.kept > 0

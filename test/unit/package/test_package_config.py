"""uav_traj_predictor/config.py: the one settings pattern and the one ConfigError, as the training YAML,
the datagen YAML and the node parameters use it."""
from dataclasses import FrozenInstanceError, dataclass

import pytest

from uav_traj_predictor.config import ConfigError, Settings, from_mapping, setting


@dataclass(frozen=True)
class Inner(Settings):
    width: int = setting(description="an integer", low=1)
    ratio: float | None = setting(None, "optional", low=0.0, high=1.0)


@dataclass(frozen=True)
class Outer(Settings):
    inner: Inner = setting(description="a section")
    name: str = setting("x", "a name", choices=("x", "y"))
    items: list[Inner] = setting([], "a list of sections")
    span: tuple[float, float] = setting((0.0, 1.0), "a pair", low=0.0)
    tags: tuple[str, ...] = setting((), "strings")


def test_one_config_error_class_everywhere():
    from uav_traj_predictor.datagen.config import ConfigError as datagen_error
    from uav_traj_predictor.train.config import ConfigError as train_error
    assert datagen_error is train_error is ConfigError and issubclass(ConfigError, ValueError)
    pytest.importorskip("rclpy")
    from uav_traj_predictor.nodes.params import ConfigError as node_error
    assert node_error is ConfigError


@pytest.mark.parametrize("values, message", [
    ({"inner": {"width": 0}}, "inner.width: must be >= 1, got 0"),
    ({"inner": {"width": 2, "ratio": 2.0}}, "inner.ratio: must be <= 1.0, got 2.0"),
    ({"inner": {"width": True}}, "inner.width: must be an integer, got True"),
    ({"inner": {"width": 1}, "items": [{"width": 1}, {"width": "a"}]}, "items[1].width: must be an integer, got 'a'"),
    ({"inner": {"width": 1}, "name": "z"}, "name: must be one of ['x', 'y'], got 'z'"),
    ({"inner": {"width": 1}, "span": [2.0, 1.0]}, "span: low must not exceed high, got [2.0, 1.0]"),
    ({"inner": {"width": 1}, "span": [-1.0, 1.0]}, "span: [low, high]: must be >= 0.0, got -1.0"),
    ({"inner": {"width": 1}, "tags": ["a", 3]}, "tags: [1]: must be a string, got 3"),
    ({"inner": {"width": 1}, "colour": 1},
     "colour: unknown key (expected one of ['inner', 'items', 'name', 'span', 'tags'])"),
    ({}, "inner: missing"),
    ({"inner": {}}, "inner.width: missing"),
    ({"inner": 3}, "inner: must be a mapping, got 3"),
])
def test_bad_values_name_the_dotted_key(values, message):
    with pytest.raises(ConfigError) as error:
        from_mapping(Outer, values)
    assert str(error.value) == message


def test_valid_settings_are_frozen_and_replace_revalidates():
    settings = from_mapping(Outer, {"inner": {"width": 3}, "items": [{"width": 1, "ratio": 0.5}], "tags": ["a"]})
    assert settings.inner == Inner(3) and settings.items[0].ratio == 0.5 and settings.tags == ["a"]
    with pytest.raises(FrozenInstanceError):
        settings.name = "y"
    assert settings.replace(name="y").name == "y"
    with pytest.raises(ConfigError, match="name: must be one of"):
        settings.replace(name="q")
    assert ConfigError("prefix", "problem").within("file.yaml: ").args == ("file.yaml: prefix: problem",)

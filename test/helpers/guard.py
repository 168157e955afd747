"""The guard's C twin held to its numpy reference (model/guard.py): one call on both, then every output and
every state array compared (the tests at H = 10 and H = 30 share these)."""
import numpy as np


def apply_both(fused, reference, tracks, grid, last, noise, predicted, std, network) -> None:
    """`Guard.apply` of the same inputs on `fused` (C) and `reference` (numpy): positions, std and weights
    agree to ~1e-12."""
    outputs = []
    for guard in (fused, reference):
        positions, spread = predicted.copy(), std.copy()
        guard.apply(tracks, grid, last, noise, positions, spread, network)
        outputs.append((positions, spread, guard.weight(tracks)))
    for got, want in zip(outputs[0], outputs[1]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def assert_same_state(fused, reference) -> None:
    """Scores, stored pairs and the partner filter's state of both guards agree."""
    for name in ("_stats", "_evidence", "_model", "_classical", "_target", "_pair_std", "_pair_weight", "_scale"):
        np.testing.assert_allclose(getattr(fused, name), getattr(reference, name), rtol=1e-9, atol=1e-12)
    for name in ("_x", "_p", "_mu", "_k"):
        np.testing.assert_allclose(getattr(fused.partner, name), getattr(reference.partner, name), rtol=1e-8,
                                   atol=1e-10)

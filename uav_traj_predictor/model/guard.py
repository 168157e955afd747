"""The guard: per track, blend the network's prediction toward a classical filter's by how each has done
on that very stream, so that no stream is ever much worse than the classical predictor.

Beside the network, every track runs the CV/CA IMM of `core/imm.py` (the "imm" anchor of `uav-traj
evaluate`, R from the same online noise estimate). Both predictions of the horizon are kept; when grid
position x_k arrives, every stored pair that targeted k (made at k - j, lead j) is scored:
e_m = x_k - model, e_c = x_k - classical, and per track and lead j the exponentially weighted means
(rate `rate`, about 1 / rate matured predictions)

    S_mm = E|e_m|^2,  S_cc = E|e_c|^2,  S_mc = E[e_m . e_c]

give the minimum-mean-square-error convex combination of the two predictors,

    w_j = clip((S_mm - S_mc) / (S_mm + S_cc - 2 S_mc), 0, 1),   p_j = model_j + w_j (classical_j - model_j).

White measurement noise on x_k adds the same sigma^2 to all three means, so it cancels in w_j: the weight
is unbiased however noisy the odometry. Until a lead has `min_evidence` scored pairs its weight is 0 (the
network alone), as it is for predictions that are not the network's ("warming_up", "fallback_cv"). The
blended std is the network's scaled by sqrt(S_bb / S_mm), S_bb = the blend's own mean square error from
the same means ((1 - w)^2 S_mm + w^2 S_cc + 2 w (1 - w) S_mc), so coverage follows the blend's error.
On the clean flights the weights stay near 0 (the network is better); with centimetres of noise on slow
flights, where a tuned IMM beats the network, they rise toward 1 (docs/model.md, "The guard").

Per-lead calibration (`calibration` > 0, on by default: StreamingPredictor): the network's std is calibrated on
simulated flights, and on real ones its scale per lead and axis is off (docs/model.md, "The 3 s checkpoint",
"Per-lead calibration of the 1 s default"). Each stored pair also keeps its blend weight and its std before
calibration (the network's times the blend's factor above); when its target arrives, the error e of the prediction
that was published (the blend) updates lead j's scale s_ja of that track on each axis a by a quantile tracker in
log space (model/calibration.py's rule, per lead and axis): log s_ja += calibration * ([|e_a| > s_ja std_a] - (1 -
0.6827)) (as one of two factors on s_ja), clipped to [CALIBRATION_FLOORS, 10], so that 68.27 % of the errors on
each axis at each lead fall inside std times s_ja (per axis: on the racing and Blackbird flights the network's std
is off by a different factor on each axis, and one scale for the three axes over-covered one axis while another
fell short). Real errors are heavier-tailed than a Gaussian (racing flights: 2 sigma held 89 % with 1 sigma at 68
%), so a second tracker per lead and axis fits u_ja to the 2-sigma level by the same rule ([|e_a| > 2 u_ja std_a]
against 1 - 0.93, CALIBRATION_LEVELS) and the published std is std times max(s_ja, u_ja): 1 sigma where the tails
are Gaussian or lighter, wider only where 2 sigma would fall short of 93 %.

A reset forgets a track's filter and scores. Streaming (`Guard.apply` per tick) and offline
(`guard_segment`) run the same arithmetic and agree exactly while each tick advances one grid sample
(true of the node whenever the raw rate is at least the grid rate).
"""
from __future__ import annotations

import numpy as np

from ..core.imm import IMM_DEFAULTS, FilterConfig, IMMBank
from .calibration import COVERAGE_1SIGMA, LOG_SCALE_LIMIT

try:                          # the C twin of `Guard.apply` (kernels/cstream.c GuardState), when it was built
    from ..kernels._cstream import GUARD_MAX_H as C_MAX_HORIZON, GuardState as _GuardState
except ImportError:
    _GuardState, C_MAX_HORIZON = None, 0

RECOMMENDED_RATE = 0.02   # chosen on ../shared/flights under perturbations (development figures, docs/model.md)
# The classical partner every track runs beside the network: the "imm" anchor's filter with a measurement-noise
# floor of 2 cm, i.e. smoother than that anchor on clean odometry, so that its errors differ more from the
# network's. Chosen by the guarded model's score on simulated flights only (`cd /tmp && python
# bench/tune_guard.py`, 24 flights x 40 s, seed 4242, at 8a295bd: geometric mean ADE / CV 0.4798 against 0.4847
# with the anchor's 1 mm floor and 0.4819 for the network alone; docs/model.md "The guard").
PARTNER_DEFAULTS = dict(IMM_DEFAULTS, sigma_floor=0.02)
MIN_EVIDENCE = 20         # scored pairs per lead before the weight may leave 0
# rate of the per-lead calibration where it is on (each lead and axis scored once per grid step). 0.02 (the online
# calibration's rate, model/calibration.py, chosen on held-out simulated flights) was too slow for a track's
# start on real flights: on the short racing flights the far leads' std starts ~2x narrow and the trackers
# caught up only after ~10 s, then over-covered. 0.05 chosen on ../shared/flights (development figures;
# 0.04-0.1 all give 179-180 of 180 calibrated cells, `bench/horizon_table.py --lead-calibration`, docs/model.md)
CALIBRATION_RATE = 0.05
# the per-lead calibration's two levels: (multiple of the std, share of the per-axis errors inside it). The
# 2-sigma level sits 3 points above the target of 90 % (issue 16) for the tracker's lag: 92 %, fixed before
# measuring, missed on the unsafe side on ../shared/flights; 93 % was chosen after that (docs/model.md)
CALIBRATION_LEVELS = ((1.0, COVERAGE_1SIGMA), (2.0, 0.93))
# how far a scale may shrink: to CALIBRATION_FLOORS[0][1] times the network's std at leads up to
# CALIBRATION_FLOORS[0][0] seconds, to [1][1] beyond (and grow to 10x at any lead, LOG_SCALE_LIMIT). Down to 0.1 at
# every lead, a hover's tiny errors shrank the near leads' std and the first predictions after it were
# over-confident (EuRoC MH_01_easy, the simulation-only 1 s checkpoint: NLL -2.03 -> -1.70, NEES 4.9 -> 6.3); 0.7
# there keeps its NLL (-2.03) while the calibration still lifts the coverage. Beyond 1 s the 3 s checkpoint's std is
# up to several times too wide on slow flights and has to shrink (docs/model.md, "Per-lead calibration of the 1 s
# default"; chosen on ../shared/flights: `bench/coverage_axes.py --floors`)
CALIBRATION_FLOORS = ((1.0, 0.7), (float("inf"), 0.1))
DEFAULT_RATE = RECOMMENDED_RATE   # the product's default: StreamingPredictor, so predictor_node, evaluate, bag eval


class Guard:
    """Per-track, per-lead blend weights over slots 0..capacity-1 (see module doc); rate 0 disables it.

    Storage is by target like the online calibration's: [track, target % H, lead - 1] holds the pair
    made at target - lead for grid index `target` (`_target` -1: nothing stored)."""

    def __init__(self, capacity: int, horizon: int, dt: float, rate: float = RECOMMENDED_RATE,
                 min_evidence: int = MIN_EVIDENCE, partner: FilterConfig | None = None, fused: bool = True,
                 calibration: float = 0.0):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"guard rate must be in [0, 1), got {rate}")
        if not 0.0 <= calibration < 1.0:
            raise ValueError(f"guard calibration rate must be in [0, 1), got {calibration}")
        self.calibration = float(calibration)
        if int(min_evidence) != min_evidence or min_evidence < 1:
            raise ValueError(f"guard min_evidence must be a positive integer, got {min_evidence}")
        self.rate, self.horizon, self.min_evidence = float(rate), int(horizon), int(min_evidence)
        self.partner = IMMBank(dt, horizon, capacity,
                               partner if partner is not None else FilterConfig(**PARTNER_DEFAULTS))
        h = self.horizon
        self._lead = np.arange(h)                                         # lead - 1
        self._stats = np.zeros((capacity, 3, h))                          # S_mm, S_cc, S_mc per lead
        self._evidence = np.zeros((capacity, h), np.int64)
        self._model = np.zeros((capacity, h, h, 3))
        self._classical = np.zeros((capacity, h, h, 3))
        self._target = np.full((capacity, h, h), -1, np.int64)
        self._weight = np.zeros(capacity)                                 # mean weight of the last blend
        self._pair_std = np.zeros((capacity, h, h, 3))      # each stored pair's published std before its lead's scale
        self._pair_weight = np.zeros((capacity, h, h))       # and its blend weight (its blended prediction)
        self._scale = np.ones((capacity, 2, h, 3))          # per lead and axis: s_ja, u_ja (1, 2 sigma)
        self._level_multiple = np.array([[[m]] for m, _ in CALIBRATION_LEVELS])           # (2, 1, 1)
        # the quantile tracker's step in log space is rate * ([outside] - (1 - q)): one of two factors on the scale
        # (no exp per update; the C twin multiplies by the same two numbers)
        self._level_up = np.exp(self.calibration * np.array([[[q]] for _, q in CALIBRATION_LEVELS]))
        self._level_down = np.exp(-self.calibration * np.array([[[1.0 - q]] for _, q in CALIBRATION_LEVELS]))
        self._near_leads = int(np.sum((self._lead + 1) * dt <= CALIBRATION_FLOORS[0][0] + 1e-9))
        self._floor = np.where(self._lead < self._near_leads, CALIBRATION_FLOORS[0][1],
                               CALIBRATION_FLOORS[1][1])                     # (H,) the lowest scale per lead
        self._ceiling = float(np.exp(LOG_SCALE_LIMIT))
        # the C twin (same to ~1e-12), for horizons up to its compile-time bound; longer ones run numpy
        self.fused = bool(fused and _GuardState is not None and h <= C_MAX_HORIZON)
        self._c_state = None

    @property
    def enabled(self) -> bool:
        return self.rate > 0.0

    def grow(self, capacity: int) -> None:
        old = len(self._weight)
        self.partner.grow(capacity)
        self._c_state = None

        def extend(array, fill):
            out = np.full((capacity,) + array.shape[1:], fill, dtype=array.dtype)
            out[:old] = array
            return out
        self._stats, self._evidence = extend(self._stats, 0.0), extend(self._evidence, 0)
        self._model, self._classical = extend(self._model, 0.0), extend(self._classical, 0.0)
        self._target, self._weight = extend(self._target, -1), extend(self._weight, 0.0)
        self._pair_std, self._scale = extend(self._pair_std, 0.0), extend(self._scale, 1.0)
        self._pair_weight = extend(self._pair_weight, 0.0)

    def reset(self, indices) -> None:
        indices = np.asarray(indices, np.int64)
        self.partner.reset(indices)
        self._stats[indices] = 0.0
        self._evidence[indices] = 0
        self._target[indices] = -1
        self._weight[indices] = 0.0
        self._scale[indices] = 1.0

    def weight(self, indices) -> np.ndarray:
        """Mean blend weight over the leads of each track's latest prediction (0: the network alone)."""
        return self._weight[np.asarray(indices, np.int64)]

    def apply(self, indices, grid_index, last, noise, positions, std, network) -> np.ndarray:
        """One tick for tracks `indices` (n,) at grid indices (n,) with grid positions `last` (n, 3) and noise
        levels (n,) m: score the stored pairs that targeted this grid index, step the classical filter,
        record the new pairs of the rows made by the network (`network` (n,) bool), and blend those rows of
        `positions` / `std` (n, H, 3) in place; `weight(indices)` then gives each track's mean weight."""
        indices = np.asarray(indices, np.int64)
        grid_index = np.asarray(grid_index, np.int64)
        last = np.asarray(last, np.float64).reshape(len(indices), 3)
        network = np.asarray(network, bool)
        if self.fused:
            return self._apply_fused(indices, grid_index, last, noise, positions, std, network)
        self.step_partner(indices, grid_index, last, noise)
        with np.errstate(all="ignore"):                  # overflowing scores give NaN weights, set to 0
            self._score(indices, grid_index, last)
            classical, _ = self.partner.forecast(indices, with_std=False)
            weights = np.zeros((len(indices), self.horizon))
            rows = np.flatnonzero(network)
            if len(rows):
                weights[rows] = self._blend(indices[rows], grid_index[rows], positions, std, classical, rows)
        self._weight[indices] = weights.mean(axis=1)

    def _apply_fused(self, indices, grid_index, last, noise, positions, std, network) -> None:
        """`apply` through kernels/cstream.c (`apply_packed` on a packed copy)."""
        out = np.empty((len(indices), 3, self.horizon, 3))
        out[:, 0], out[:, 2] = positions, std
        self.apply_packed(indices, grid_index, last, noise, out, network)
        positions[...], std[...] = out[:, 0], out[:, 2]

    def c_state(self):
        """The C twin's view of this guard's state arrays (kernels/cstream.c GuardState; None without the C
        path): `apply_packed` uses it, and StreamingPredictor hands it to the network's C call, which then
        guards each ready track in the same call. Rebuilt after `grow`, the only place arrays are rebound."""
        if not self.fused:
            return None
        if self._c_state is None:
            partner, cfg = self.partner, self.partner.config
            self._c_state = _GuardState(
                partner._x, partner._p, partner._mu, partner._k, partner._f, partner._q, partner._transition,
                partner._forecast, self._stats, self._evidence, self._model, self._classical, self._target,
                self._weight, self._pair_std, self._pair_weight, self._scale,
                (cfg.init_velocity_std ** 2, cfg.init_accel_std ** 2),
                self.rate, self.min_evidence, cfg.sigma_floor, partner.dt,
                (self.calibration,   # per level: multiple, up, down (the C twin's order)
                 *np.stack([self._level_multiple, self._level_up, self._level_down], axis=1).ravel().tolist(),
                 float(self._near_leads), float(self._floor[0]), float(self._floor[-1]), self._ceiling))
        return self._c_state

    def apply_packed(self, indices, grid_index, last, noise, out, network=None) -> None:
        """`apply` on out (n, 3, H, 3) = [positions | velocities | std] in place (velocities follow the blended
        positions, from `last`), `network` None: every row; through kernels/cstream.c when built, which
        leaves rows whose filter skips grid steps to the numpy filter (one step of d dt) first."""
        if not self.fused:
            network = np.ones(len(indices), bool) if network is None else network
            positions, std = out[:, 0], out[:, 2]
            self.apply(indices, grid_index, last, noise, positions, std, network)
            steps = np.concatenate([np.asarray(last, np.float64).reshape(-1, 1, 3), positions], axis=1)
            np.subtract(steps[:, 1:], steps[:, :-1], out=out[:, 1])
            out[:, 1] /= self.partner.dt
            return
        indices = np.ascontiguousarray(indices, np.int64)
        grid_index = np.ascontiguousarray(grid_index, np.int64)
        last, noise = np.ascontiguousarray(last, np.float64), np.ascontiguousarray(noise, np.float64)
        network = None if network is None else np.ascontiguousarray(network, bool)
        state = self.c_state()
        longer = state.apply(indices, grid_index, last, noise, out, network)
        if longer is not None:                           # filters that skip grid steps: numpy, then the rest
            rows = list(longer)
            self.step_partner(indices[rows], grid_index[rows], last[rows], noise[rows])
            state.apply(indices, grid_index, last, noise, out, network)

    def step_partner(self, indices, grid_index, last, noise) -> None:
        """The classical filter's (numpy) step of tracks `indices` to `grid_index` from grid positions `last`
        (n, 3) and noise levels (n,) m: what the C twin leaves to it (filters that skip grid steps)."""
        self.partner.update(indices, grid_index, last, self.partner.config.measurement_variance(noise))

    def _score(self, indices, grid_index, last) -> None:
        slot = grid_index % self.horizon
        stored = self._target[indices, slot]
        valid = stored == grid_index[:, None]                              # (n, H): lead j's pair targeted k
        if not valid.any():
            return
        error_m = last[:, None, :] - self._model[indices, slot]
        error_c = last[:, None, :] - self._classical[indices, slot]
        fresh = np.stack([(error_m * error_m).sum(axis=2), (error_c * error_c).sum(axis=2),
                          (error_m * error_c).sum(axis=2)], axis=1)          # (n, 3, H)
        stats = self._stats[indices]
        stats += np.where(valid[:, None, :], self.rate * (fresh - stats), 0.0)
        self._stats[indices] = stats
        self._evidence[indices] += valid
        if self.calibration > 0.0:                                         # the per-lead quantile tracker
            scale = self._scale[indices]                                   # (n, 2, H, 3)
            model, weight = self._model[indices, slot], self._pair_weight[indices, slot][..., None]
            blended = np.where(weight > 0, model + weight * (self._classical[indices, slot] - model), model)
            bound = self._pair_std[indices, slot][:, None] * (self._level_multiple * scale)
            error = np.abs(last[:, None, :] - blended)[:, None]            # the published prediction's error
            moved = scale * np.where(error > bound, self._level_up, self._level_down)   # (n, 2, H, 3)
            moved = np.clip(moved, self._floor[None, None, :, None], self._ceiling)
            self._scale[indices] = np.where(valid[:, None, :, None], moved, scale)
        # each pair is scored once; the others in that slot stay (lead H's pair of this very grid index shares
        # it when a tick repeats the grid index)
        self._target[indices, slot] = np.where(valid, -1, stored)

    def _blend(self, tracks, grid_index, positions, std, classical, rows) -> np.ndarray:
        model = positions[rows]                                            # the network's, as recorded
        targets = grid_index[:, None] + 1 + self._lead                     # (m, H)
        where = (tracks[:, None], targets % self.horizon, self._lead[None, :])
        self._model[where], self._classical[where], self._target[where] = model, classical[rows], targets
        mm, cc, mc = np.moveaxis(self._stats[tracks], 1, 0)                # (m, H) each
        spread = mm + cc - 2.0 * mc                                        # E|model - classical|^2 >= 0
        weights = np.where(spread > 0, (mm - mc) / np.where(spread > 0, spread, 1.0), 0.0)
        np.clip(weights, 0.0, 1.0, out=weights)
        # no weight without enough evidence, for NaN scores (overflowing errors) or a broken filter forecast
        weights[(self._evidence[tracks] < self.min_evidence) | np.isnan(weights)
                | ~np.isfinite(classical[rows]).all(axis=2)] = 0.0
        blended = (1.0 - weights) ** 2 * mm + weights**2 * cc + 2.0 * weights * (1.0 - weights) * mc
        factor = np.sqrt(np.fmax(blended, 0.0) / np.where(mm > 0, mm, 1.0))
        factor = np.where((weights > 0) & (mm > 0) & np.isfinite(factor), factor, 1.0)
        self._pair_weight[where], self._pair_std[where] = weights, std[rows] * factor[..., None]
        factor = factor[..., None]                                         # (m, H, 1), per axis below
        if self.calibration > 0.0:
            factor = factor * self._scale[tracks].max(axis=1)
        moved = weights > 0
        positions[rows] = np.where(moved[..., None], model + weights[..., None] * (classical[rows] - model), model)
        std[rows] *= factor
        return weights


def guard_segment(positions: np.ndarray, predicted: np.ndarray, std: np.ndarray, noise: np.ndarray, dt: float,
                  rate: float = RECOMMENDED_RATE, min_evidence: int = MIN_EVIDENCE, fused: bool = True,
                  partner: FilterConfig | None = None, calibration: float = 0.0):
    """Offline twin of the streaming use for one fresh track over a segment: row k >= 1 (a track is
    predicted once it has a velocity) is one `Guard.apply` with the segment's grid position and noise
    level; rows with a finite network prediction are blended. Returns (positions, std) (M, H, 3) copies."""
    out, spread = predicted.copy(), std.copy()
    horizon = predicted.shape[1]
    guard = Guard(1, horizon, dt, rate, min_evidence, partner=partner, fused=fused, calibration=calibration)
    if not guard.enabled:
        return out, spread
    track, noise = np.zeros(1, np.int64), np.asarray(noise, np.float64)
    for k in range(1, len(positions)):
        row = slice(k, k + 1)
        network = np.isfinite(out[k]).all(keepdims=True).reshape(1)
        guard.apply(track, np.array([k]), positions[row], noise[row], out[row], spread[row], network)
    return out, spread

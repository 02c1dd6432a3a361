"""OptiSet's signed preference score and the fit of its scale coefficients α, β.

- :func:`preference` is **OptiSet Eq. (8)**::

      P = 1 − sigmoid(α·ΔH)   if ΔH ≤ 0   (positive set: P ∈ [0.5, 1))
      P =   − sigmoid(β·ΔH)   if ΔH > 0   (negative set: P ∈ (−1, −0.5))

  with ΔH = H_p − H_0 (**Eq. 7**), the change in the generator's answer entropy when the
  set is given as context (lower is better).
- :func:`fit_alpha_beta` is **OptiSet Appendix C**: α, β ∈ [0.01, 10] minimise
  ``KS(P_neg, U[−1, −0.5]) + KS(P_pos, U[0.5, 1])`` (scipy.stats.kstest,
  scipy.optimize.minimize with bounds), multi-start over a grid. Since P_pos depends only
  on α and P_neg only on β, the two terms are fitted independently (same optimum as the
  joint sum, better conditioned).

Example:
    >>> round(preference(-1.0, alpha=2.0, beta=1.0), 4)   # 1 − σ(−2)
    0.8808
    >>> round(preference(0.5, alpha=2.0, beta=1.0), 4)    # −σ(0.5)
    -0.6225
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA_BETA_BOUNDS = (0.01, 10.0)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def preference(dH: float, alpha: float, beta: float) -> float:
    """OptiSet Eq. (8): map an entropy change ΔH to a signed preference P."""
    if not math.isfinite(dH):
        raise ValueError(f"dH must be finite, got {dH}")
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"alpha and beta must be > 0, got {alpha}, {beta}")
    if dH <= 0:
        return 1.0 - _sigmoid(alpha * dH)
    return -_sigmoid(beta * dH)


def preferences(dHs: Sequence[float], alpha: float, beta: float) -> list[float]:
    return [preference(d, alpha, beta) for d in dHs]


def inverse_preference(p: float, alpha: float, beta: float) -> float:
    """ΔH that maps to ``p`` under Eq. (8) (used to test the fit; p ∈ (0.5,1) ∪ (−1,−0.5))."""
    if 0.5 <= p < 1.0:
        # 1 − σ(αΔH) = p  ⇒  σ(αΔH) = 1 − p  ⇒  ΔH = logit(1 − p) / α
        q = 1.0 - p
        return math.log(q / (1.0 - q)) / alpha
    if -1.0 < p < -0.5:
        # −σ(βΔH) = p  ⇒  ΔH = logit(−p) / β
        q = -p
        return math.log(q / (1.0 - q)) / beta
    raise ValueError(f"p={p} is outside the range of Eq. (8)")


@dataclass
class AlphaBetaFit:
    """Result of :func:`fit_alpha_beta`. ``ks_pos``/``ks_neg`` are the KS distances at the optimum."""

    alpha: float
    beta: float
    ks_pos: float | None
    ks_neg: float | None
    n_pos: int
    n_neg: int

    @property
    def objective(self) -> float:
        return (self.ks_pos or 0.0) + (self.ks_neg or 0.0)


def _ks_pos(alpha: float, neg_dh: Sequence[float]) -> float:
    from scipy import stats

    # Positives (ΔH ≤ 0) vs U[0.5, 1]: loc=0.5, scale=0.5.
    values = [1.0 - _sigmoid(alpha * d) for d in neg_dh]
    return float(stats.kstest(values, "uniform", args=(0.5, 0.5)).statistic)


def _ks_neg(beta: float, pos_dh: Sequence[float]) -> float:
    from scipy import stats

    # Negatives (ΔH > 0) vs U[−1, −0.5]: loc=−1, scale=0.5.
    values = [-_sigmoid(beta * d) for d in pos_dh]
    return float(stats.kstest(values, "uniform", args=(-1.0, 0.5)).statistic)


def _fit_one(objective, n_starts: int) -> tuple[float, float]:
    import numpy as np
    from scipy.optimize import minimize

    lo, hi = ALPHA_BETA_BOUNDS
    # Multi-start: log-spaced starting points across the bounds; KS is piecewise constant,
    # so a derivative-free bounded method (Powell) is used from each start.
    starts = np.geomspace(lo * 2, hi / 2, n_starts)
    best_x, best_f = float(starts[0]), math.inf
    for x0 in starts:
        res = minimize(lambda v: objective(float(v[0])), x0=[x0], method="Powell", bounds=[(lo, hi)])
        x = float(np.clip(res.x[0], lo, hi))
        f = objective(x)
        if f < best_f - 1e-12:
            best_x, best_f = x, f
    return best_x, best_f


def fit_alpha_beta(dHs: Sequence[float], n_starts: int = 8, default: float = 1.0) -> AlphaBetaFit:
    """Fit α (on ΔH ≤ 0) and β (on ΔH > 0) per OptiSet Appendix C.

    Args:
        dHs: entropy changes of all sampled sets of a dataset.
        n_starts: starting points of the multi-start search.
        default: value kept for a side with fewer than 2 samples (nothing to fit).
    """
    finite = [float(d) for d in dHs if math.isfinite(d)]
    pos_side = [d for d in finite if d <= 0]  # positive sets
    neg_side = [d for d in finite if d > 0]  # negative sets
    alpha, ks_p = default, None
    beta, ks_n = default, None
    if len(pos_side) >= 2 and any(d < 0 for d in pos_side):
        alpha, ks_p = _fit_one(lambda a: _ks_pos(a, pos_side), n_starts)
    if len(neg_side) >= 2:
        beta, ks_n = _fit_one(lambda b: _ks_neg(b, neg_side), n_starts)
    return AlphaBetaFit(alpha=alpha, beta=beta, ks_pos=ks_p, ks_neg=ks_n, n_pos=len(pos_side), n_neg=len(neg_side))

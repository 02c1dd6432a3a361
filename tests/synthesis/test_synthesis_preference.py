"""OptiSet Eq. (8) and the Appendix C α/β fit, against hand-computed values."""

import math
import random

import pytest

from setsel.synthesis.preference import fit_alpha_beta, inverse_preference, preference


def test_hand_computed_values():
    # ΔH = −1, α = 2: 1 − σ(−2) = 1 − 1/(1+e^2) = 0.880797…
    assert preference(-1.0, 2.0, 1.0) == pytest.approx(1 - 1 / (1 + math.e**2), abs=1e-12)
    # ΔH = 0 is positive (≤ 0): 1 − σ(0) = 0.5
    assert preference(0.0, 3.0, 3.0) == 0.5
    # ΔH = 0.5, β = 1: −σ(0.5) = −1/(1+e^−0.5) = −0.622459…
    assert preference(0.5, 2.0, 1.0) == pytest.approx(-1 / (1 + math.exp(-0.5)), abs=1e-12)


def test_ranges_and_monotonicity():
    dhs = [x / 10 for x in range(-50, 51)]
    ps = [preference(d, 1.7, 0.6) for d in dhs]
    for d, p in zip(dhs, ps):
        if d <= 0:
            assert 0.5 <= p < 1.0
        else:
            assert -1.0 < p < -0.5
    # Lower ΔH (better set) never gets a lower preference.
    assert all(a >= b for a, b in zip(ps, ps[1:]))
    # Every positive outranks every negative.
    assert min(p for d, p in zip(dhs, ps) if d <= 0) > max(p for d, p in zip(dhs, ps) if d > 0)


def test_bad_inputs():
    with pytest.raises(ValueError):
        preference(float("nan"), 1, 1)
    with pytest.raises(ValueError):
        preference(0.1, 0, 1)


def test_inverse_round_trip():
    for p in (0.55, 0.8, 0.99, -0.51, -0.7, -0.98):
        assert preference(inverse_preference(p, 2.5, 0.4), 2.5, 0.4) == pytest.approx(p, abs=1e-9)


@pytest.mark.parametrize("alpha,beta", [(0.5, 3.0), (4.0, 0.2), (1.3, 1.3)])
def test_fit_recovers_known_alpha_beta(alpha, beta):
    rng = random.Random(7)
    # Draw P exactly uniform on each side, map back through Eq. (8) with the true α, β:
    # the fit must find the α, β that make P uniform again.
    pos = [inverse_preference(rng.uniform(0.5005, 0.9995), alpha, beta) for _ in range(400)]
    neg = [inverse_preference(rng.uniform(-0.9995, -0.5005), alpha, beta) for _ in range(400)]
    fit = fit_alpha_beta(pos + neg)
    assert fit.n_pos == 400 and fit.n_neg == 400
    assert fit.alpha == pytest.approx(alpha, rel=0.1)
    assert fit.beta == pytest.approx(beta, rel=0.1)
    assert fit.objective < 0.1


def test_fit_one_sided_keeps_default():
    fit = fit_alpha_beta([0.3, 0.8, 1.2, 2.0])
    assert fit.n_pos == 0 and fit.alpha == 1.0 and fit.ks_pos is None
    assert 0.01 <= fit.beta <= 10

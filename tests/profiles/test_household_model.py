"""The stochastic household model, statistic by statistic, against its definition.

``household_load_kw`` (module docstring of ``energy_sim.profiles.household``):
per connection, with mean power ``m = annual_kwh / 8766 h`` and level
``L = D C S`` (day factors and shape),

    p(t) = (1 - f) m L(t) N(t) + (e / dt) * (sum of event energies in step t)

with ``N`` a mean-one lognormal AR(1) (log s.d. ``sigma``, lag-k correlation
of the log ``exp(-k dt / tau)``) and events a Poisson process of rate
``f m L / e`` per hour with Gamma energies (mean 1, shape ``k_e``, in units
of ``e`` = ``event_kwh``). The expected values below are worked out from
these definitions by hand (moments of the lognormal, of the Poisson law and
of compound Poisson sums), never read from the code. With the shift, the
day factors and the shared factor switched off, ``L`` is exactly the
standard shape of ``standard_load_shape``, which ``test_household.py``
checks against the E1A reference.

Tolerances are ~4-5 standard errors of each estimate for its sample size.
"""

import math

import numpy as np
import pandas as pd
import pytest

from energy_sim.profiles import household as hh
from energy_sim.profiles.household import (
    HouseholdNoise,
    HouseholdTraits,
    household_load_kw,
    household_traits,
    standard_load_shape,
)

WEEK = pd.date_range("2025-01-13", periods=96 * 7, freq="15min", tz="UTC")  # Monday to Sunday, winter
DAY = WEEK[96 * 2 : 96 * 3]  # Wednesday 2025-01-15
HOURS_PER_YEAR = 8766.0
ANNUAL_KWH = 2700.0
M_KW = ANNUAL_KWH / HOURS_PER_YEAR
# every stochastic part off except the one under test
QUIET = dict(shift_sd_h=0.0, day_sd=0.0, common_day_sd=0.0)


def _homes(n, noise, idx, seed=1, dtype=np.float64):
    traits = HouseholdTraits(shift_h=np.zeros(n), common_seed=0)
    return household_load_kw(idx, np.full(n, ANNUAL_KWH), rng=np.random.default_rng(seed), traits=traits,
                              noise=noise, dtype=dtype)


def test_without_randomness_the_load_is_the_standard_shape_times_mean_power():
    noise = HouseholdNoise(**QUIET, noise_sd=0.0, event_share=0.0)
    p = _homes(20, noise, WEEK)
    np.testing.assert_allclose(p, np.broadcast_to(M_KW * standard_load_shape(WEEK)[:, None], p.shape), rtol=1e-9)


def test_noise_is_a_mean_one_lognormal_ar1_with_the_model_parameters():
    # 2,000 homes x 1 week, events off: N = p / (m S). Expected (HouseholdNoise
    # defaults, dt = 0.25 h, tau = 1 h): E[N] = 1; log N has s.d. 0.25 and
    # lag-1 / lag-4 correlations exp(-0.25) = 0.7788 and exp(-1) = 0.3679;
    # E[log N] = -0.25^2 / 2 = -0.03125 (mean-one lognormal).
    noise = HouseholdNoise(**QUIET, event_share=0.0)
    n = 2000
    ratio = _homes(n, noise, WEEK) / (M_KW * standard_load_shape(WEEK)[:, None])
    log_n = np.log(ratio)
    assert abs(ratio.mean() - 1.0) < 0.01
    assert abs(log_n.mean() + 0.03125) < 0.01
    assert abs(log_n.std() - 0.25) < 0.01
    centred = log_n - log_n.mean()
    lag1 = np.mean(centred[1:] * centred[:-1]) / centred.var()
    lag4 = np.mean(centred[4:] * centred[:-4]) / centred.var()
    assert abs(lag1 - math.exp(-0.25)) < 0.02
    assert abs(lag4 - math.exp(-1.0)) < 0.03
    # each home reads its own window of the noise pool; two homes share one with
    # probability 1 / (65,536 - 672 + 1) (module docstring): ~31 of the 2e6 pairs
    # here (Poisson, s.d. 5.5)
    assert np.unique(ratio, axis=1).shape[1] >= n - 60


def test_events_are_poisson_arrivals_following_the_shape_with_gamma_energy():
    # noise off (sigma = 0 gives N = 1 exactly): the event part is p - (1 - f) m S.
    # Per step, lam = f m S dt / e; P(at least one event) = 1 - exp(-lam);
    # energy in units of e: mean lam, variance lam (1 + 1/k_e) (compound Poisson).
    noise = HouseholdNoise(**QUIET, noise_sd=0.0)
    f, e_kwh, k_e, dt_h = noise.event_share, noise.event_kwh, noise.event_shape, 0.25
    n = 2000
    s = standard_load_shape(WEEK)
    p = _homes(n, noise, WEEK)
    units = (p - (1.0 - f) * M_KW * s[:, None]) * dt_h / e_kwh  # event energy per step [e]
    assert units.min() > -1e-9
    lam = f * M_KW * s * dt_h / e_kwh  # [n_step], ~0.05-0.25
    # by hour of the local day (7 days x 4 steps x 2,000 homes each): the event
    # frequency follows the shape (more events at the evening peak, not bigger ones)
    hour = WEEK.tz_convert("Europe/Amsterdam").hour.to_numpy()
    hit = units > 1e-9
    for h in range(24):
        rows = hour == h
        expect = np.mean(1.0 - np.exp(-lam[rows]))
        assert abs(hit[rows].mean() / expect - 1.0) < 0.05, h
    assert abs(units.mean() / lam.mean() - 1.0) < 0.02
    var_expect = lam.mean() * (1.0 + 1.0 / k_e)
    assert abs(np.mean((units - lam[:, None]) ** 2) / var_expect - 1.0) < 0.03


def test_spread_between_identical_homes_matches_the_model_variance():
    # 4,000 identical homes (same energy, no shift, no shared factor), one day,
    # with the default day factor, noise and events. With a = (1 - f) m S,
    # b = f m S, lam = b dt / e, E[D^2] = exp(sd_d^2), E[N^2] = exp(sigma^2):
    # E[p^2] = (a^2 E[N^2] + 2 a b + b^2) E[D^2] + lam (e / dt)^2 (1 + 1/k_e)
    # Var[p] = E[p^2] - (m S)^2  (events and noise independent given D).
    noise = HouseholdNoise(shift_sd_h=0.0, common_day_sd=0.0)
    f, e_kwh, k_e, dt_h = noise.event_share, noise.event_kwh, noise.event_shape, 0.25
    p = _homes(4000, noise, DAY, seed=7)
    s = standard_load_shape(DAY)
    a, b = (1.0 - f) * M_KW * s, f * M_KW * s
    lam = b * dt_h / e_kwh
    e_p2 = ((a * a * math.exp(noise.noise_sd**2) + 2.0 * a * b + b * b) * math.exp(noise.day_sd**2)
            + lam * (e_kwh / dt_h) ** 2 * (1.0 + 1.0 / k_e))
    var_expect = e_p2 - (M_KW * s) ** 2
    assert abs(p.var(axis=1).sum() / var_expect.sum() - 1.0) < 0.05
    assert abs(p.mean() / (M_KW * s.mean()) - 1.0) < 0.02
    # a single home's 15-min demand varies by more than its mean (c.v. ~1.7),
    # and no two of the identical homes have the same day
    assert np.sqrt(var_expect / (M_KW * s) ** 2).min() > 1.0
    assert np.unique(p, axis=1).shape[1] == p.shape[1]


def _engine_blocks(traits, seed, wijk, blocks, n, noise=HouseholdNoise()):
    """Blocks of one UTC day, seeded as energy_sim.engine seeds them (STREAM_HOUSEHOLD_NOISE = 4)."""
    annual = np.full(n, ANNUAL_KWH)
    return np.concatenate([
        household_load_kw(WEEK[b * 96 : (b + 1) * 96], annual, rng=np.random.default_rng([seed, 4, wijk, b]),
                          traits=traits, noise=noise)
        for b in blocks
    ]).astype(np.float64)


def test_aggregate_of_many_homes_is_smoother_than_one_home_as_independent_demand():
    # Two realisations X, Y (seeds 1, 2) of the same 300 homes over a week. For
    # independent homes the aggregate's fluctuation adds up as variances:
    # E[(sum_i X_i - sum_i Y_i)^2] = sum_i E[(X_i - Y_i)^2], ratio 1 (it would be
    # ~300 for homes moving together). Hence the aggregate's relative
    # fluctuation is 1/sqrt(300) of a home's.
    n = 300
    traits = household_traits(n, rng=np.random.default_rng(11), common_seed=5)
    x = _engine_blocks(traits, 1, 0, range(7), n)
    y = _engine_blocks(traits, 2, 0, range(7), n)
    ratio = np.mean((x.sum(axis=1) - y.sum(axis=1)) ** 2) / np.mean(((x - y) ** 2).sum(axis=1))
    assert 0.85 < ratio < 1.15
    single_cv = np.mean(np.std(x - y, axis=0) / x.mean(axis=0))
    aggregate_cv = np.std(x.sum(axis=1) - y.sum(axis=1)) / x.sum(axis=1).mean()
    assert aggregate_cv < 1.3 * single_cv / math.sqrt(n)


def test_blocks_and_wijken_are_independent_and_reproducible_as_the_engine_seeds_them():
    n = 500
    traits = household_traits(n, rng=np.random.default_rng([3, 3, 0]), common_seed=3)
    other = household_traits(n, rng=np.random.default_rng([3, 3, 1]), common_seed=4)
    # block 4 of wijk 0 alone equals block 4 computed after other blocks and wijken
    # (cached calendars and pools carry nothing from one call to the next)
    alone = _engine_blocks(traits, 3, 0, [4], n)
    for b in range(5):
        _engine_blocks(other, 3, 1, [b], n)
    in_order = _engine_blocks(traits, 3, 0, range(5), n)
    np.testing.assert_array_equal(in_order[4 * 96 :], alone)
    # another wijk with the same homes, or the same wijk on another seed:
    # a new, uncorrelated realisation (correlation of the deviations ~1/sqrt(48,000))
    same_homes_wijk1 = _engine_blocks(traits, 3, 1, [4], n)
    other_seed = _engine_blocks(traits, 9, 0, [4], n)
    for y in (same_homes_wijk1, other_seed):
        assert not np.array_equal(alone, y)
        dev_x = alone - alone.mean(axis=1, keepdims=True)
        dev_y = y - y.mean(axis=1, keepdims=True)
        assert abs(np.corrcoef(dev_x.ravel(), dev_y.ravel())[0, 1]) < 0.03


def test_energy_kept_where_event_counts_switch_to_direct_draws():
    # A 60 MWh/yr business (e3a): lam = f m S dt / e = 0.5 * 6.84 kW * S * 0.25 h / 0.35 kWh
    # = 2.44 S per step, so night steps (S ~ 0.4-0.7) walk the event pool and
    # working hours (S > 0.82) draw directly. Expected weekly energy:
    # m * sum(S) * dt; s.d. of the mean of 300 connections ~0.5 % (day factor).
    idx = pd.date_range("2025-05-12", periods=96 * 7, freq="15min", tz="UTC")
    n = 300
    annual = np.full(n, 60_000.0)
    noise = HouseholdNoise(common_day_sd=0.0)
    s = standard_load_shape(idx, "e3a")
    assert (s.min() * 2.44 < hh._EVENT_POOL_MAX_LAM) and (s.max() * 2.44 > hh._EVENT_POOL_MAX_LAM)
    p = household_load_kw(idx, annual, rng=np.random.default_rng(8), profile="e3a", noise=noise)
    expect_kwh = 60_000.0 / HOURS_PER_YEAR * s.sum() * 0.25
    assert abs(p.sum(axis=0, dtype=np.float64).mean() * 0.25 / expect_kwh - 1.0) < 0.025


@pytest.mark.parametrize("dt_h", [0.25, 1.0])
def test_noise_pool_is_a_stationary_lognormal_ar1_of_mean_one(dt_h):
    phi = math.exp(-dt_h / 1.0)
    cached = hh._noise_pool(0.25, phi)
    assert not cached.flags.writeable  # shared by every call: read-only
    pool = cached.astype(np.float64)
    assert pool.size >= 35_040  # a year of quarter-hours without repeating
    assert abs(pool.mean() - 1.0) < 1e-6
    x = np.log(pool)
    c = x - x.mean()
    assert abs(x.std() - 0.25) < 0.01
    assert abs(np.mean(c[1:] * c[:-1]) / c.var() - phi) < 0.02


def test_event_pool_gaps_are_exponential_and_energies_gamma():
    pool = hh._event_pool(4.0)
    gap, energy = pool[:, 0], pool[:, 1]
    n = gap.size
    np.testing.assert_allclose([gap.mean(), energy.mean()], 1.0, rtol=1e-12)
    # Exp(1): variance 1, P(gap > 3) = exp(-3); Gamma(4)/4: variance 1/4
    assert abs(gap.var() - 1.0) < 5 * math.sqrt(8.0 / n)
    assert abs((gap > 3.0).mean() - math.exp(-3.0)) < 5 * math.sqrt(math.exp(-3.0) / n)
    assert abs(energy.var() - 0.25) < 5 * math.sqrt((3 * 0.25**2 + 6 * 0.25**3 - 0.25**2) / n)
    assert gap.min() > 0 and energy.min() > 0

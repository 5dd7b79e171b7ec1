"""Tests of the fused profile kernels: reproducibility, samplers, and agreement with the reference chain.

The samplers are checked against their distributions' exact moments
(Poisson: mean = variance = lam, P(0) = exp(-lam); Gamma(k, 1): mean =
variance = k; standard normal: mean 0, variance 1, kurtosis 3), with
tolerances of ~5 standard errors of the estimate for the sample size used.
"""

import math

import numba
import numpy as np
import pandas as pd
import pytest
from numba import njit

from energy_sim.profiles import household as hh
from energy_sim.profiles.heat import (
    HeatPumpHomes,
    dhw_heat_kw,
    dhw_shape,
    heat_pump_electric_kw,
    heat_pump_group_electric_kw,
    load_heat_pump,
    space_heat_kw,
)
from energy_sim.profiles.household import household_load_kw, household_traits

BLOCK = pd.date_range("2025-01-15", periods=96, freq="15min", tz="UTC")


# ---- household: reproducibility -----------------------------------------------------------------------------


def _homes(n, seed=1):
    annual = np.random.default_rng(seed).lognormal(np.log(2700), 0.35, n)
    traits = household_traits(n, rng=np.random.default_rng([seed, 3]), common_seed=seed)
    return annual, traits


def test_household_identical_whatever_the_number_of_threads():
    annual, traits = _homes(3000)
    before = numba.get_num_threads()
    try:
        runs = []
        for n_threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n_threads)
            runs.append(household_load_kw(BLOCK, annual, rng=np.random.default_rng([5, 4, 0, 7]), traits=traits))
    finally:
        numba.set_num_threads(before)
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


def _reference_kernel(out, day_table, step_index, step_frac, day_idx, day_scale, shift_off, mean_kw, conn_key,
                      conn_index, day_factor, noise_pool, n_noise, event_pool, event_gap, event_energy, event_share,
                      event_kwh, event_shape, dt_h, *work_space):
    """The model's step-by-step loop (``_household_column``), one connection after the other."""
    for i in range(out.shape[1]):
        hh._household_column(out, i, day_table, step_index, step_frac, day_idx, day_scale, shift_off, mean_kw,
                             conn_key, conn_index, day_factor, noise_pool, n_noise, event_pool, event_share, event_kwh,
                             event_shape, dt_h)


@pytest.mark.parametrize("start, periods, freq", [
    ("2025-01-15", 96, "15min"),  # a block as the engine computes it
    ("2025-03-29 20:00", 192, "15min"),  # across the spring DST change: 23-hour local day
    ("2025-06-15 13:07", 300, "7min"),  # steps off the minute grid of the shapes: interpolated
    ("2025-10-20", 24 * 9, "h"),  # hourly, across the autumn DST change
    ("2025-01-01", 70_100, "15min"),  # longer than the noise pool: read cyclically
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shared_shifts", [False, True])
def test_household_tiled_kernel_reproduces_the_step_by_step_loop(monkeypatch, start, periods, freq, dtype,
                                                                 shared_shifts):
    # The tiled kernel (tiles of connections, shared shape rows, chunks of
    # steps, event steps looked up in the running sum of the shape: by a
    # scan, or by a table when many connections share a shape row) must
    # give what the per-connection loop gives, up to the rounding of adding
    # the same numbers in another order (a few units in the last place; an
    # event in another step would differ by ~1 kW): zero, typical and
    # business-sized connections (the latter take direct Poisson/Gamma
    # draws), and a number of connections that is not a multiple of the tile.
    t = pd.date_range(start, periods=periods, freq=freq, tz="UTC")
    n = 150 if periods < 10_000 else 7
    annual = np.random.default_rng(3).lognormal(np.log(2700), 0.5, n)
    annual[::11] = 0.0
    annual[3] = 2.0e6
    annual[5] = 4.0e5
    traits = household_traits(n, rng=np.random.default_rng(4), common_seed=9)
    if shared_shifts:  # shifts on the half hour (6 shape rows for 150): events are placed by the table
        traits = hh.HouseholdTraits(np.round(traits.shift_h * 2.0) / 2.0, common_seed=9)
    for profile in ("e1a", "e3a"):
        fast = household_load_kw(t, annual, rng=np.random.default_rng([8, 1]), traits=traits, profile=profile,
                                 dtype=dtype)
        with monkeypatch.context() as m:
            m.setattr(hh, "_household_kernel", _reference_kernel)
            reference = household_load_kw(t, annual, rng=np.random.default_rng([8, 1]), traits=traits,
                                           profile=profile, dtype=dtype)
        assert fast.dtype == reference.dtype == dtype
        np.testing.assert_allclose(fast, reference, rtol=4 * np.finfo(dtype).eps, atol=0.0)
        assert np.all(reference[:, ::11] == 0.0) and reference[:, 3].mean() > 100.0


def test_household_column_does_not_depend_on_other_columns():
    annual, traits = _homes(50)
    full = household_load_kw(BLOCK, annual, rng=np.random.default_rng(11), traits=traits)
    sub_traits = hh.HouseholdTraits(shift_h=traits.shift_h[:20], common_seed=traits.common_seed)
    part = household_load_kw(BLOCK, annual[:20], rng=np.random.default_rng(11), traits=sub_traits)
    np.testing.assert_array_equal(part, full[:, :20])


def test_household_groups_in_one_call_equal_one_call_per_group():
    # the engine computes all wijken of a block in one call; each wijk's
    # columns must be what its own call gives (its own generator and traits),
    # including a business-sized connection (direct draws) and an empty group
    sizes = (130, 0, 70, 1)
    groups, separate = [], []
    for g, n in enumerate(sizes):
        annual, traits = _homes(n, seed=20 + g)
        annual[:1] = 3.0e5 if n > 100 else annual[:1]
        groups.append(hh.HouseholdGroup(annual, hh.HouseholdTraits(traits.shift_h, common_seed=3),
                                        np.random.default_rng([9, 4, g, 5])))
        separate.append(household_load_kw(BLOCK, annual, rng=np.random.default_rng([9, 4, g, 5]),
                                          traits=hh.HouseholdTraits(traits.shift_h, common_seed=3)))
    together = hh.household_groups_load_kw(BLOCK, groups)
    assert together.shape == (96, sum(sizes))
    np.testing.assert_array_equal(together, np.hstack(separate))
    groups[1] = hh.HouseholdGroup(groups[1].annual_kwh, hh.HouseholdTraits(groups[1].traits.shift_h, common_seed=4),
                                  groups[1].rng)
    with pytest.raises(ValueError, match="common_seed"):
        hh.household_groups_load_kw(BLOCK, groups)


def test_household_connections_reused_block_after_block_equal_fresh_calls():
    # the engine prepares its homes once (HouseholdConnections) and computes block after block through the
    # same work space: each block must be what a fresh call gives, whatever the block before left there
    # (longer blocks of several chunks, zero and business-sized connections)
    sizes = (130, 70)
    groups = []
    for g, n in enumerate(sizes):
        annual, traits = _homes(n, seed=30 + g)
        annual[::9] = 0.0
        annual[4] = 3.0e5
        groups.append((annual, hh.HouseholdTraits(traits.shift_h, common_seed=3)))
    prepared = hh.HouseholdConnections(groups)
    for block, periods in enumerate((300, 96, 17, 96)):
        t = pd.date_range("2025-02-03", periods=periods, freq="15min", tz="UTC")
        totals = np.full((2, periods), np.nan)
        got = prepared.load_kw(t, [np.random.default_rng([9, g, block]) for g in range(2)], group_total_kw=totals)
        fresh = hh.household_groups_load_kw(t, [hh.HouseholdGroup(a, tr, np.random.default_rng([9, g, block]))
                                                for g, (a, tr) in enumerate(groups)])
        np.testing.assert_array_equal(got, fresh, err_msg=f"block {block}")
        assert np.all(got[:, :130:9] == 0.0) and np.all(got[:, 130::9] == 0.0)
        # each group's sum per step (the second group starts inside a tile; the business-sized connections
        # are computed apart): the output's columns summed, up to their rounding to float32
        np.testing.assert_allclose(totals[0], got[:, :130].sum(axis=1, dtype=np.float64), rtol=1e-6)
        np.testing.assert_allclose(totals[1], got[:, 130:].sum(axis=1, dtype=np.float64), rtol=1e-6)
        assert totals[0].min() > 3.0e5 / 8766 / 2  # the business-sized connection is in


def test_household_out_buffer_and_float64():
    annual, traits = _homes(100)
    ref = household_load_kw(BLOCK, annual, rng=np.random.default_rng(2), traits=traits)
    buf = np.full((96, 100), np.nan, dtype=np.float32)
    got = household_load_kw(BLOCK, annual, rng=np.random.default_rng(2), traits=traits, out=buf)
    assert got is buf
    np.testing.assert_array_equal(got, ref)
    p64 = household_load_kw(BLOCK, annual, rng=np.random.default_rng(2), traits=traits, dtype=np.float64)
    assert p64.dtype == np.float64
    # same draws, float32 is the rounding of float64
    np.testing.assert_array_equal(p64.astype(np.float32), ref)
    with pytest.raises(ValueError, match="out must be"):
        household_load_kw(BLOCK, annual, rng=np.random.default_rng(2), traits=traits, out=np.empty((96, 99), np.float32))


def test_household_large_annual_use_uses_ptrs_and_keeps_energy():
    # a 2 GWh/yr business on an hourly step: ~50 events per step (PTRS branch);
    # its expected energy over the week is 2e6 / 8766 * 168 * mean(shape)
    idx = pd.date_range("2025-05-12", periods=168, freq="h", tz="UTC")
    n = 200
    annual = np.full(n, 2.0e6)
    noise = hh.HouseholdNoise(common_day_sd=0.0)
    p = household_load_kw(idx, annual, rng=np.random.default_rng(4), profile="e3a", noise=noise)
    expect_kwh = 2.0e6 / 8766.0 * hh.standard_load_shape(idx, "e3a").sum()
    # relative sd of one connection's weekly energy is dominated by the day factor
    # (0.2 / sqrt(7 days) ~ 7.6 %); the mean of 200 connections: ~0.55 %; 5 sd: 2.7 %
    assert abs(p.sum(axis=0, dtype=np.float64).mean() / expect_kwh - 1.0) < 0.027


# ---- household: samplers -------------------------------------------------------------------------------------


@njit
def _draw_poisson(lam, n, seed):
    out = np.empty(n, dtype=np.int64)
    state, spare, has = np.uint64(seed), 0.0, False
    for i in range(n):
        state, spare, has, out[i] = hh._poisson(state, spare, has, lam)
    return out


@njit
def _draw_gamma(shape, n, seed):
    out = np.empty(n)
    state, spare, has = np.uint64(seed), 0.0, False
    for i in range(n):
        state, spare, has, out[i] = hh._gamma(state, spare, has, shape)
    return out


@njit
def _draw_normal(n, seed):
    out = np.empty(n)
    state, spare, has = np.uint64(seed), 0.0, False
    for i in range(n):
        state, out[i], spare, has = hh._normal(state, spare, has)
    return out


@pytest.mark.parametrize("lam", [0.05, 0.7, 4.0, 9.9, 10.0, 35.0, 400.0])
def test_poisson_sampler_moments(lam):
    n = 400_000
    k = _draw_poisson(lam, n, 12345)
    se_mean = math.sqrt(lam / n)
    assert abs(k.mean() - lam) < 5 * se_mean
    # variance of the sample variance of a Poisson: (lam + 2 lam^2) / n (fourth cumulant lam)
    assert abs(k.var() - lam) < 5 * math.sqrt((lam + 2 * lam * lam) / n)
    p0 = math.exp(-lam)
    assert abs((k == 0).mean() - p0) < 5 * math.sqrt(p0 * (1 - p0) / n) + 1e-12
    assert k.min() >= 0


@pytest.mark.parametrize("shape", [0.5, 2.5, 4.0, 8.0, 16.0, 17.0, 60.0])
def test_gamma_sampler_moments(shape):
    n = 200_000
    x = _draw_gamma(shape, n, 777)
    assert x.min() > 0
    assert abs(x.mean() - shape) < 5 * math.sqrt(shape / n)
    # Var of the sample variance of Gamma(k): (mu4 - sigma^4) / n with mu4 = 3k^2 + 6k
    assert abs(x.var() - shape) < 5 * math.sqrt((2 * shape * shape + 6 * shape) / n)


def test_normal_sampler_moments_and_tail():
    n = 1_000_000
    z = _draw_normal(n, 99)
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2.0 / n)
    kurt = np.mean(z**4) / z.var() ** 2
    assert abs(kurt - 3.0) < 5 * math.sqrt(96.0 / n)
    # P(|Z| > 3) = 0.0026998 (standard normal table)
    assert abs((np.abs(z) > 3).mean() - 0.0026998) < 5 * math.sqrt(0.0027 / n)


def test_streams_of_neighbouring_connections_are_uncorrelated():
    # first uniforms of 100,000 consecutive connection streams, as the kernel seeds them
    @njit
    def first_two(key, n):
        out = np.empty((n, 2))
        for i in range(n):
            s = hh._mix64(key + hh._mix64(np.uint64(i) + hh._U64_GOLDEN))
            s, out[i, 0] = hh._uniform(s)
            s, out[i, 1] = hh._uniform(s)
        return out

    u = first_two(np.uint64(2025), 100_000)
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / u.size)
    r_lag1 = np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]
    r_within = np.corrcoef(u[:, 0], u[:, 1])[0, 1]
    assert abs(r_lag1) < 5 / math.sqrt(1e5) and abs(r_within) < 5 / math.sqrt(1e5)


# ---- heat pumps: fused group vs the hand-tested chain --------------------------------------------------------


def _chain(time_utc, t, h, t_base, dhw_kwh, model):
    space = space_heat_kw(t, h, t_base)
    dhw = dhw_heat_kw(time_utc, dhw_kwh)
    return heat_pump_electric_kw(space, t, model, dhw_kw=dhw, t_base_degc=t_base).p_electric_kw


@pytest.mark.parametrize("model", ["air_source_8kw", "hybrid_4kw"])
def test_heat_pump_group_matches_chain(model):
    t = np.linspace(-20.0, 20.0, 96)  # through capacity limit, backup, hybrid switch and no demand
    rng = np.random.default_rng(3)
    h = 145.0 * rng.lognormal(0, 0.4, 300)
    t_base = rng.uniform(14.0, 17.0, 300)
    dhw = rng.uniform(1000.0, 3000.0, 300)
    ref = _chain(BLOCK, t, h, t_base, dhw, model)
    got = heat_pump_group_electric_kw(BLOCK, t, h, t_base, dhw, model, dtype=np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    assert np.any(ref > 0) and np.any(ref == 0) if model == "hybrid_4kw" else np.all(ref > 0)
    got32 = heat_pump_group_electric_kw(BLOCK, t, h, t_base, dhw, model)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("model", ["air_source_8kw", "hybrid_4kw"])
def test_heat_pump_group_one_base_temperature_matches_chain(model):
    # the usual case, one base temperature for the group (the kernel's path without a gather),
    # with two units in some homes; the chain is tested by hand in test_heat.py
    t = np.linspace(-20.0, 20.0, 96)
    rng = np.random.default_rng(4)
    h = 145.0 * rng.lognormal(0, 0.4, 200)
    dhw = rng.uniform(1000.0, 3000.0, 200)
    n_units = np.where(np.arange(200) % 3 == 0, 2.0, 1.0)
    space = space_heat_kw(t, h, 16.0)
    ref = heat_pump_electric_kw(space, t, model, dhw_kw=dhw_heat_kw(BLOCK, dhw), t_base_degc=16.0,
                                n_units=n_units).p_electric_kw
    got = heat_pump_group_electric_kw(BLOCK, t, h, 16.0, dhw, model, n_units=n_units, dtype=np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # and again from the cache of the step quantities: same temperatures, other homes
    got2 = heat_pump_group_electric_kw(BLOCK, t, h[::-1], 16.0, dhw[::-1], model, n_units=n_units[::-1],
                                       dtype=np.float64)
    np.testing.assert_allclose(got2, ref[:, ::-1], rtol=1e-12, atol=1e-12)


def test_dhw_shape_cache_returns_fresh_arrays():
    # the DHW shape is cached per evenly spaced block: callers get their own copy
    a = dhw_shape(BLOCK)
    a[:] = -1.0
    b = dhw_shape(BLOCK)
    assert b.min() > 0.0 and b.flags.writeable
    # an uneven index (a DST change in local daily steps) is not taken for an even one
    days = pd.date_range("2025-03-29", periods=3, freq="D", tz="Europe/Amsterdam")
    np.testing.assert_array_equal(dhw_shape(days), [dhw_shape(days[i:i + 1])[0] for i in range(3)])


def test_heat_pump_group_by_hand():
    # test_heat.py::test_capacity_limit_and_backup_by_hand: at -7 C a 10 kW demand
    # gets 5.984 kW from the heat pump (COP at 52.647 C supply) and 4.016 kW
    # from the element. H = 10 kW / (15.5 - (-7)) K = 444.4 W/K, no DHW.
    dt = 59.647058823529
    cop = 6.81 - 0.121 * dt + 0.00063 * dt * dt
    idx = BLOCK[:1]
    p = heat_pump_group_electric_kw(idx, [-7.0], [10_000.0 / 22.5], 15.5, 0.0, load_heat_pump("air_source_8kw"),
                                    dtype=np.float64)
    np.testing.assert_allclose(p, [[5.984 / cop + 4.016]], rtol=1e-9)


def test_heat_pump_homes_concat_needs_one_type():
    a = HeatPumpHomes.of([150.0], 15.5, 2000.0, "air_source_8kw")
    b = HeatPumpHomes.of([150.0], 15.5, 2000.0, "hybrid_4kw")
    with pytest.raises(ValueError, match="same heat pump"):
        HeatPumpHomes.concat([a, b])
    with pytest.raises(ValueError, match="at least one"):
        HeatPumpHomes.concat([])


def test_heat_pump_group_out_and_errors():
    h = np.full(10, 150.0)
    t = np.full(96, 0.0)
    buf = np.empty((96, 10), np.float32)
    assert heat_pump_group_electric_kw(BLOCK, t, h, 15.5, 2000.0, "air_source_8kw", out=buf) is buf
    with pytest.raises(ValueError, match="steps"):
        heat_pump_group_electric_kw(BLOCK, t[:50], h, 15.5, 2000.0, "air_source_8kw")
    with pytest.raises(ValueError, match="h_w_k"):
        heat_pump_group_electric_kw(BLOCK, t, -h, 15.5, 2000.0, "air_source_8kw")


def test_heat_pump_electric_kw_keeps_scalar_and_1d_shapes():
    hp = load_heat_pump("air_source_8kw")
    r0 = heat_pump_electric_kw(10.0, -7.0, hp)
    r2 = heat_pump_electric_kw(np.array([[10.0]]), np.array([-7.0]), hp)
    assert r0.q_heat_pump_kw.shape == () and r2.q_heat_pump_kw.shape == (1, 1)
    np.testing.assert_allclose(float(r0.q_heat_pump_kw), 5.984)
    np.testing.assert_allclose(float(r0.p_backup_kw), 4.016)
    r1 = heat_pump_electric_kw(np.array([10.0, 0.0]), np.array([-7.0, 20.0]), hp)
    assert r1.q_heat_pump_kw.shape == (2, 1)
    np.testing.assert_allclose(r1.q_heat_pump_kw[:, 0], [5.984, 0.0])


# ---- batteries: kernel vs a plain per-battery loop -----------------------------------------------------------


def _battery_reference(net, e_max, p_max, eta, e0, e_lo, dt_h):
    """Self-consumption by the module's documented rule, one battery at a time, in plain Python."""
    p_out = np.zeros_like(net)
    for b in range(net.shape[1]):
        e = e0[b]
        for t in range(net.shape[0]):
            want = -net[t, b]
            if want > 0:
                p = min(want, p_max, max((e_max - e) / (eta * dt_h), 0.0))
                e += eta * p * dt_h
            else:
                p = -min(-want, p_max, max((e - e_lo) * eta / dt_h, 0.0))
                e += p / eta * dt_h
            p_out[t, b] = p
    return p_out


def test_battery_dispatch_matches_per_battery_loop():
    from energy_sim.profiles.storage import battery_dispatch, home_batteries

    rng = np.random.default_rng(8)
    net = rng.normal(0.0, 2.0, (300, 7))
    fleet = home_batteries(7, soc_init_frac=np.linspace(0.05, 1.0, 7))
    r = battery_dispatch(net, fleet, dt_h=0.25)
    ref = _battery_reference(net, 10.0, 5.0, 0.95, fleet.soc_init_frac * 10.0, 0.5, 0.25)
    np.testing.assert_allclose(r.p_battery_kw, ref, rtol=0, atol=1e-12)

"""The homes' power in a block (`WijkHomes.block`), against the models it assembles.

References: the household load from `household_load_kw` with the same
generator, the heat pumps from the general chain (`space_heat_kw`,
`dhw_heat_kw`, `heat_pump_electric_kw`, tested by hand in test_heat.py),
reactive power at cos(phi) = 0.97: q / p = sqrt(1 - 0.97²) / 0.97 =
0.2431049 / 0.97 = 0.2506236, and rooftop PV as output per kWp times kWp.
(The load flow reads the homes' q and PV in that factored form; that it
equals per-home arrays is tests/grid/test_simulate.py's
``test_reactive_power_and_pv_given_as_ratios_equal_per_home_arrays``.)
"""

import numpy as np
import pandas as pd
import pytest

from energy_sim.profiles.heat import HeatPumpHomes, dhw_heat_kw, heat_pump_electric_kw, space_heat_kw
from energy_sim.profiles.homes import HOUSEHOLD_Q_PER_P, CityHomesBlock, HeatPumpGroup, WijkHomes
from energy_sim.profiles.household import household_load_kw, household_traits

DAY = pd.date_range("2025-01-15", periods=96, freq="15min", tz="UTC")
N_HOME = 12
T_AMB_DEGC = np.linspace(-8.0, 6.0, 96)  # a cold day: the all-electric units reach their backup element
PV_KW_PER_KWP = np.linspace(0.0, 0.7, 96)
H_W_K = {"air_source_8kw": np.array([180.0, 250.0, 320.0]), "hybrid_4kw": np.array([200.0, 400.0])}
COLUMNS = {"air_source_8kw": np.array([1, 5, 9]), "hybrid_4kw": np.array([2, 11])}
T_BASE_DEGC, DHW_KWH = 15.5, 2000.0


def _homes(code: str = "WK000001", traits_seed: int = 5, t_base_degc: float = T_BASE_DEGC) -> WijkHomes:
    annual = np.linspace(1500.0, 5000.0, N_HOME)
    pv_kwp = np.where(np.arange(N_HOME) % 3 == 0, 3.5, 0.0)
    pv_kwp[4] = 2.2
    groups = [HeatPumpGroup(COLUMNS[m], HeatPumpHomes.of(H_W_K[m], t_base_degc, DHW_KWH, m)) for m in COLUMNS]
    traits = household_traits(N_HOME, rng=np.random.default_rng(traits_seed), common_seed=5)
    return WijkHomes(code, [f"h{i}" for i in range(N_HOME)], annual, pv_kwp, traits, groups)


def _heat_pump_reference_kw() -> np.ndarray:
    hp = np.zeros((len(DAY), N_HOME))
    for model, columns in COLUMNS.items():
        space = space_heat_kw(T_AMB_DEGC, H_W_K[model], T_BASE_DEGC)
        dhw = dhw_heat_kw(DAY, np.full(columns.size, DHW_KWH))
        hp[:, columns] = heat_pump_electric_kw(space, T_AMB_DEGC, model, dhw_kw=dhw,
                                               t_base_degc=T_BASE_DEGC).p_electric_kw
    return hp


def test_household_reactive_power_ratio_is_cos_phi_0_97():
    assert HOUSEHOLD_Q_PER_P == pytest.approx(0.2506236, rel=1e-6)


def test_block_assembles_household_heat_pumps_and_totals():
    homes = _homes()
    block = homes.block(DAY, T_AMB_DEGC, PV_KW_PER_KWP, np.random.default_rng([1, 2]))
    load = household_load_kw(DAY, homes.annual_kwh, rng=np.random.default_rng([1, 2]), traits=homes.traits,
                             dtype=np.float64)
    hp = _heat_pump_reference_kw()
    assert hp[:, COLUMNS["air_source_8kw"]].min() > 0 and hp[:, COLUMNS["hybrid_4kw"]].max() > 0
    # the heat pumps of the homes that have one, group after group
    np.testing.assert_array_equal(block.heat_pump_columns, [1, 5, 9, 2, 11])
    assert block.heat_pump_kw.shape == (96, 5) and block.heat_pump_kw.dtype == np.float32
    np.testing.assert_allclose(block.heat_pump_kw, hp[:, [1, 5, 9, 2, 11]], rtol=1e-6)
    assert not hp[:, [0, 3, 4, 6, 7, 8, 10]].any()
    p = block.p_kw()
    assert p.shape == (96, N_HOME) and p.dtype == np.float32
    np.testing.assert_allclose(p, load + hp, rtol=1e-6)
    np.testing.assert_allclose(block.p_kw([11, 0, 5]), (load + hp)[:, [11, 0, 5]], rtol=1e-6)
    np.testing.assert_allclose(block.household_total_kw, load.sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(block.heat_pump_total_kw, hp.sum(axis=1), rtol=1e-6)
    # 4 homes of 3.5 kWp and one of 2.2 kWp: 16.2 kWp
    np.testing.assert_allclose(block.pv_total_kw, 16.2 * PV_KW_PER_KWP, rtol=1e-12)


def test_block_refills_given_arrays():
    homes = _homes()
    out = homes.empty_block(len(DAY))
    arrays = (out.household_kw, out.heat_pump_kw)
    homes.block(DAY, T_AMB_DEGC + 10.0, PV_KW_PER_KWP[::-1], np.random.default_rng([1, 1]), out=out)
    again = homes.block(DAY, T_AMB_DEGC, PV_KW_PER_KWP, np.random.default_rng([1, 2]), out=out)
    fresh = homes.block(DAY, T_AMB_DEGC, PV_KW_PER_KWP, np.random.default_rng([1, 2]))
    assert again is out and all(a is b for a, b in zip(arrays, (out.household_kw, out.heat_pump_kw)))
    for name in ("household_kw", "heat_pump_kw", "household_total_kw", "heat_pump_total_kw", "pv_total_kw"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name), err_msg=name)
    with pytest.raises(ValueError, match="block needs"):
        homes.block(DAY[:48], T_AMB_DEGC[:48], PV_KW_PER_KWP[:48], np.random.default_rng(0), out=out)


def test_heat_pumps_alone_match_the_block():
    homes = _homes()
    block = homes.block(DAY, T_AMB_DEGC, PV_KW_PER_KWP, np.random.default_rng(3))
    np.testing.assert_array_equal(homes.heat_pumps_kw(DAY, T_AMB_DEGC), block.heat_pump_kw)
    np.testing.assert_array_equal(homes.heat_pump_columns, block.heat_pump_columns)


def test_city_block_gives_each_wijk_what_its_own_block_gives():
    # the engine fills all wijken with one household call per block and one heat-pump call per type; every
    # array of every wijk must equal, bit for bit, the wijk's own WijkHomes.block with the same generator, and
    # stay so when refilled (the second wijk's homes have another base temperature: the city's heat pumps of
    # each type then span two)
    homes = [_homes("WK000001", 5), _homes("WK000002", 6, t_base_degc=17.0), _homes("WK000003", 7)]
    city = CityHomesBlock(homes, len(DAY))
    for day_seed in (2, 3):
        got = city.fill(DAY, T_AMB_DEGC, PV_KW_PER_KWP, [np.random.default_rng([day_seed, k]) for k in range(3)])
        for k, h in enumerate(homes):
            own = h.block(DAY, T_AMB_DEGC, PV_KW_PER_KWP, np.random.default_rng([day_seed, k]))
            for name in ("household_kw", "heat_pump_columns", "heat_pump_kw", "heat_pump_total_kw", "pv_total_kw"):
                np.testing.assert_array_equal(getattr(got[h.code], name), getattr(own, name), err_msg=name)
            # the household kernel sums a wijk's homes in pieces cut at its tiles of 64 homes, which fall
            # elsewhere in the city's array: the same sum up to rounding
            np.testing.assert_allclose(got[h.code].household_total_kw, own.household_total_kw, rtol=1e-12)
            # the wijk's household load is its columns of the city's (from which the load flow reads it)
            assert np.shares_memory(got[h.code].household_kw, city.household_kw)
            np.testing.assert_array_equal(city.household_kw[:, city.columns[h.code]],
                                          household_load_kw(DAY, h.annual_kwh, rng=np.random.default_rng([day_seed, k]),
                                                            traits=h.traits))
    with pytest.raises(ValueError, match="steps"):
        city.fill(DAY[:48], T_AMB_DEGC[:48], PV_KW_PER_KWP[:48], [np.random.default_rng(k) for k in range(3)])

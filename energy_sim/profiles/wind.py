"""Wind turbine power from weather: catalogue, hub-height wind, air density.

The chain: 10 m wind -> hub height (power law) -> density-normalised wind speed
(IEC 61400-12-1) -> power curve of a catalogue turbine -> cut-in/cut-out ->
availability.  Pure numpy over whole horizons.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
from ruamel.yaml import YAML

__all__ = [
    "RHO_STANDARD_KG_M3",
    "SHEAR_EXPONENT_TWENTE",
    "TurbineType",
    "air_density_kg_m3",
    "hub_height_wind_m_s",
    "load_turbine_catalogue",
    "wind_turbine_power_kw",
]

#: Standard air density of power curves [kg/m³] (IEC 61400-12-1; ISO 2533 at sea level, 15 °C).
RHO_STANDARD_KG_M3 = 1.225

#: Specific gas constant of dry air [J/(kg K)] and gravity [m/s²] (ISO 2533).
R_DRY_AIR_J_KG_K = 287.05
G_M_S2 = 9.80665
#: ISA temperature lapse rate in the troposphere [K/m] (ISO 2533).
LAPSE_RATE_K_M = 0.0065

#: Power-law shear exponent for Twente.  The log law u(z) ∝ ln(z / z0) with
#: the roughness length z0 ≈ 0.2 m of farmland with hedgerows and scattered
#: woods (Wieringa 1992, "Updating the Davenport roughness classification",
#: J. Wind Eng. Ind. Aerodyn. 41; class "rough", 0.1-0.25 m) gives
#: ln(140/0.2)/ln(10/0.2) = 1.675 between 10 and 140 m, i.e. an equivalent
#: exponent ln(1.675)/ln(14) = 0.195.  The widely used 1/7 (0.143) belongs to
#: open, smooth terrain; measured annual-mean exponents at Cabauw (rural NL)
#: are 0.2-0.3 because of stable nights, so 0.2 is a mid, slightly cautious value.
SHEAR_EXPONENT_TWENTE = 0.2

#: Time-averaged technical availability of modern onshore turbines [-]
#: (95-99 %; Pfaffel, Faulstich & Rohrig 2017, "Performance and reliability of
#: wind turbines: a review", Energies 10, 1904).
AVAILABILITY_ONSHORE_FRAC = 0.97


@dataclass(frozen=True, eq=False)
class TurbineType:
    """A wind turbine type of the catalogue (``models/wind_turbines.yaml``).

    Attributes
    ----------
    key : str
        Catalogue key, e.g. ``"E-141/4200"``.
    manufacturer, name : str
    rated_power_kw : float
        [kW]
    rotor_diameter_m : float
        [m]
    hub_heights_m : tuple of float
        Available hub heights [m].
    cut_in_m_s, cut_out_m_s : float
        [m/s]
    wind_speed_m_s : numpy.ndarray
        Power-curve wind speeds, strictly increasing [m/s].
    power_kw : numpy.ndarray
        Power at standard density 1.225 kg/m³ [kW].
    source : str
        Where the curve comes from.
    """

    key: str
    manufacturer: str
    name: str
    rated_power_kw: float
    rotor_diameter_m: float
    hub_heights_m: tuple[float, ...]
    cut_in_m_s: float
    cut_out_m_s: float
    wind_speed_m_s: np.ndarray
    power_kw: np.ndarray
    source: str

    def __post_init__(self) -> None:
        v = np.asarray(self.wind_speed_m_s, dtype=np.float64)
        p = np.asarray(self.power_kw, dtype=np.float64)
        where = f"models/wind_turbines.yaml: {self.key}"
        if v.shape != p.shape or v.ndim != 1 or v.size < 2:
            raise ValueError(f"{where}: wind_speed_m_s and power_kw must be 1-D lists of equal length")
        if np.any(np.diff(v) <= 0):
            raise ValueError(f"{where}: wind_speed_m_s must be strictly increasing")
        if np.any(p < 0) or np.any(p > self.rated_power_kw * (1 + 1e-9)):
            raise ValueError(f"{where}: power_kw must lie in [0, rated_power_kw={self.rated_power_kw:g}]")
        if not 0 <= self.cut_in_m_s < self.cut_out_m_s:
            raise ValueError(f"{where}: need 0 <= cut_in_m_s < cut_out_m_s")
        v.setflags(write=False)
        p.setflags(write=False)
        object.__setattr__(self, "wind_speed_m_s", v)
        object.__setattr__(self, "power_kw", p)
        object.__setattr__(self, "hub_heights_m", tuple(float(h) for h in self.hub_heights_m))

    @property
    def specific_power_w_m2(self) -> float:
        """Rated power per swept rotor area [W/m²]."""
        return self.rated_power_kw * 1e3 / (np.pi * self.rotor_diameter_m**2 / 4)


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, TurbineType]:
    raw = YAML(typ="safe").load((files("energy_sim.models") / "wind_turbines.yaml").read_text(encoding="utf-8"))
    return {
        str(key): TurbineType(
            key=str(key), manufacturer=e["manufacturer"], name=e["name"],
            rated_power_kw=float(e["rated_power_kw"]), rotor_diameter_m=float(e["rotor_diameter_m"]),
            hub_heights_m=tuple(e["hub_heights_m"]), cut_in_m_s=float(e["cut_in_m_s"]),
            cut_out_m_s=float(e["cut_out_m_s"]), wind_speed_m_s=np.array(e["wind_speed_m_s"], dtype=float),
            power_kw=np.array(e["power_kw"], dtype=float), source=str(e["source"]),
        )
        for key, e in raw.items()
    }


def load_turbine_catalogue() -> dict[str, TurbineType]:
    """Turbine types of ``models/wind_turbines.yaml`` keyed by catalogue name.

    Returns
    -------
    dict of str to TurbineType
        A new dict each call (the parsed file is cached).
    """
    return dict(_catalogue())


def hub_height_wind_m_s(
    wind_speed_10m_m_s,
    hub_height_m,
    *,
    shear_exponent: float = SHEAR_EXPONENT_TWENTE,
    reference_height_m: float = 10.0,
) -> np.ndarray:
    """Wind speed at hub height by the power law u(z) = u_ref (z / z_ref)^α.

    Parameters
    ----------
    wind_speed_10m_m_s : array_like
        Wind speed at ``reference_height_m`` [m/s].
    hub_height_m : float or array_like
        Hub height [m]; broadcast against the wind speeds.
    shear_exponent : float
        Hellmann exponent α [-]; default :data:`SHEAR_EXPONENT_TWENTE` (0.2).
    reference_height_m : float
        Measurement height [m]; KNMI anemometers are at 10 m.

    Returns
    -------
    numpy.ndarray
        Wind speed at hub height [m/s].

    Notes
    -----
    A constant exponent keeps the 10 m daytime wind maximum at hub height,
    whereas at 100-150 m the diurnal cycle reverses (stable nights); the
    annual mean is right, the diurnal shape only approximate.
    """
    u = np.asarray(wind_speed_10m_m_s, dtype=np.float64)
    return u * (np.asarray(hub_height_m, dtype=np.float64) / reference_height_m) ** shear_exponent


def air_density_kg_m3(t_amb_degc, pressure_pa, height_m) -> np.ndarray:
    """Air density at ``height_m`` above the level where T and p were measured.

    Temperature falls with the ISA lapse rate 6.5 K/km, pressure with the
    hypsometric equation at the layer-mean temperature, and the density
    follows the ideal gas law ρ = p / (R_d T) (dry air; humidity lowers ρ by
    < 1 %).  Sources: ISO 2533 (standard atmosphere); IEC 61400-12-1 uses the
    same ideal-gas density for power-curve normalisation.

    Parameters
    ----------
    t_amb_degc : array_like
        Air temperature at the measurement level (1.5 m) [°C].
    pressure_pa : array_like
        Air pressure at the measurement level (station) [Pa].
    height_m : float or array_like
        Height above the measurement level, e.g. hub height [m].

    Returns
    -------
    numpy.ndarray
        Air density [kg/m³].
    """
    t0_k = np.asarray(t_amb_degc, dtype=np.float64) + 273.15
    h = np.asarray(height_m, dtype=np.float64)
    t_h_k = t0_k - LAPSE_RATE_K_M * h
    t_mean_k = 0.5 * (t0_k + t_h_k)
    p_h = np.asarray(pressure_pa, dtype=np.float64) * np.exp(-G_M_S2 * h / (R_DRY_AIR_J_KG_K * t_mean_k))
    return p_h / (R_DRY_AIR_J_KG_K * t_h_k)


def wind_turbine_power_kw(
    wind_hub_m_s,
    turbine: TurbineType,
    *,
    air_density_kg_m3=None,
    availability_frac: float = AVAILABILITY_ONSHORE_FRAC,
) -> np.ndarray:
    """Electrical power of one turbine from its hub-height wind speed.

    The wind speed is normalised to the curve's standard density by the
    IEC 61400-12-1 method for pitch-regulated turbines,
    v_n = v (ρ / 1.225)^(1/3), and the power curve is interpolated linearly
    in v_n.  The turbine produces nothing below cut-in or above cut-out of the
    actual wind speed (what its controller measures).  Wake losses inside a
    park are not included.

    Parameters
    ----------
    wind_hub_m_s : array_like
        Wind speed at hub height [m/s], any shape.
    turbine : TurbineType
        Catalogue entry (see :func:`load_turbine_catalogue`).
    air_density_kg_m3 : array_like, optional
        Air density at hub height [kg/m³], broadcast against the wind speeds;
        ``None`` uses the standard 1.225 kg/m³ (no correction).
    availability_frac : float
        Time-averaged availability [-]; default 0.97 (Pfaffel et al. 2017).

    Returns
    -------
    numpy.ndarray
        Power [kW], same shape as the broadcast inputs, in [0, rated_power_kw].
    """
    v = np.asarray(wind_hub_m_s, dtype=np.float64)
    if not 0.0 <= availability_frac <= 1.0:
        raise ValueError(f"availability_frac must be in [0, 1] (got {availability_frac:g})")
    if air_density_kg_m3 is None:
        v_n = v
    else:
        v_n = v * (np.asarray(air_density_kg_m3, dtype=np.float64) / RHO_STANDARD_KG_M3) ** (1.0 / 3.0)
    p = np.interp(v_n, turbine.wind_speed_m_s, turbine.power_kw, left=0.0, right=0.0)
    running = (v >= turbine.cut_in_m_s) & (v <= turbine.cut_out_m_s)
    # right=0 would drop output when v_n passes the curve's last speed while v is still
    # below cut-out (dense air); hold rated there instead.
    p = np.where(v_n > turbine.wind_speed_m_s[-1], turbine.power_kw[-1], p)
    return np.where(running, p, 0.0) * availability_frac

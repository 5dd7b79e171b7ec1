"""PV power from weather: rooftop mixes and solar fields (PVWatts chain, pvlib).

The chain follows pvlib's PVWatts ModelChain: solar position (cached per
Weather) -> Perez transposition -> physical (Fresnel) AOI loss -> SAPM cell
temperature -> ``pvlib.pvsystem.pvwatts_dc`` -> system losses ->
``pvlib.inverter.pvwatts`` (clips at the AC rating) -> availability.

Every function takes the whole horizon at once.  Several systems are handled by
broadcasting: irradiance and cell temperature are computed once per distinct
(tilt, azimuth) for the daylight steps, ``[n_day, n_orientation]``, then scaled
and passed through each system's inverter, ``[n_step, n_system]`` -- no Python
loop over systems.  Output is linear in kWp apart from clipping, so for many
identical systems prefer one kW/kWp profile times the installed kWp.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pvlib

from energy_sim.profiles.weather import Weather, interval_midpoints_utc, solar_position

__all__ = [
    "BOELDERSHOEK_WEST",
    "DEFAULT_ORIENTATION_MIX",
    "ROOFTOP_DC_AC_RATIO",
    "Racking",
    "RoofOrientation",
    "SolarField",
    "pv_ac_power_kw",
    "rooftop_pv_kw_per_kwp",
    "solar_field_ac_kw",
]

#: Ground albedo [-]: 0.2, the usual value for grass and open land and the
#: PVWatts default (Dobos 2014, NREL/TP-6A20-62641); pvlib's PVSystem default is 0.25.
ALBEDO_FRAC = 0.2


class Racking(StrEnum):
    """Mounting, selecting the SAPM cell-temperature parameters (King et al. 2004,
    ``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS['sapm']``)."""

    open_rack_glass_polymer = "open_rack_glass_polymer"  # ground-mounted fields
    open_rack_glass_glass = "open_rack_glass_glass"
    close_mount_glass_glass = "close_mount_glass_glass"  # roof-parallel, small gap
    insulated_back_glass_polymer = "insulated_back_glass_polymer"  # building-integrated


def pv_ac_power_kw(
    weather: Weather,
    *,
    p_peak_kwp,
    surface_tilt_deg,
    surface_azimuth_deg,
    dc_ac_ratio=1.0,
    system_loss_frac=0.14,
    gamma_pdc_per_degc=-0.0037,
    inverter_efficiency_frac=0.96,
    availability_frac=1.0,
    racking: Racking | str = Racking.open_rack_glass_polymer,
) -> np.ndarray:
    """AC power of one or many PV systems (PVWatts chain with pvlib).

    ``p_peak_kwp``, ``surface_tilt_deg``, ``surface_azimuth_deg``,
    ``dc_ac_ratio``, ``system_loss_frac`` and ``availability_frac`` may be
    scalars or 1-D arrays (one value per system, broadcast together).

    Parameters
    ----------
    weather : Weather
        Interval-mean weather; solar position is taken at interval midpoints
        and cached per Weather object.
    p_peak_kwp : float or array_like
        DC nameplate at STC [kWp].
    surface_tilt_deg : float or array_like
        Module tilt from horizontal [deg].
    surface_azimuth_deg : float or array_like
        Module azimuth, clockwise from north (180 = south) [deg].
    dc_ac_ratio : float or array_like
        DC nameplate / inverter AC rating [-]; the AC output is clipped at
        ``p_peak_kwp / dc_ac_ratio``.
    system_loss_frac : float or array_like
        DC system losses (soiling, wiring, mismatch, LID, nameplate ...) [-];
        0.14 is the PVWatts default total of 14 % (Dobos 2014, NREL/TP-6A20-62641).
    gamma_pdc_per_degc : float
        Power temperature coefficient [1/°C]; -0.0037 is the PVWatts
        "standard" module (Dobos 2014).
    inverter_efficiency_frac : float
        Nominal inverter efficiency [-]; 0.96 as in PVWatts (Dobos 2014),
        part-load curve of ``pvlib.inverter.pvwatts``.
    availability_frac : float or array_like
        Time-averaged availability (outages, maintenance) [-].
    racking : Racking or str
        Mounting for the SAPM cell temperature: ``open_rack_glass_polymer`` for
        fields, ``close_mount_glass_glass`` for roofs.

    Returns
    -------
    numpy.ndarray
        AC power [kW], shape ``[n_step]`` when all system parameters are
        scalars, else ``[n_step, n_system]``.  Never negative (night
        consumption of the inverter is neglected); zero while the sun is below
        the horizon at the interval midpoint.
    """
    scalar = all(np.ndim(x) == 0 for x in (p_peak_kwp, surface_tilt_deg, surface_azimuth_deg,
                                           dc_ac_ratio, system_loss_frac, availability_frac))
    try:
        p_peak, tilt, azim, dcac, loss, avail = np.broadcast_arrays(*(
            np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (
                p_peak_kwp, surface_tilt_deg, surface_azimuth_deg, dc_ac_ratio, system_loss_frac,
                availability_frac)))
    except ValueError as exc:
        raise ValueError(f"PV system parameters must be scalars or 1-D arrays of one length ({exc})") from exc
    try:
        racking = Racking(racking)
    except ValueError:
        raise ValueError(f"racking must be one of {[r.value for r in Racking]} (got {racking!r})") from None
    if p_peak.ndim != 1:
        raise ValueError(f"PV system parameters must be scalars or 1-D arrays (got shape {p_peak.shape})")
    if np.any(p_peak < 0) or np.any(dcac <= 0):
        raise ValueError(f"p_peak_kwp must be >= 0 and dc_ac_ratio > 0 (got min {p_peak.min():g}, {dcac.min():g})")
    if np.any((loss < 0) | (loss >= 1)) or np.any((avail < 0) | (avail > 1)):
        raise ValueError("system_loss_frac must be in [0, 1) and availability_frac in [0, 1]")

    # Irradiance and cell temperature depend only on the orientation: compute them
    # once per distinct (tilt, azimuth) and only for steps with the sun up (at
    # night the output is zero by definition), then scale per system.
    orient, sys_orient = np.unique(np.stack([tilt, azim], axis=1), axis=0, return_inverse=True)
    sys_orient = sys_orient.ravel()
    solpos = solar_position(weather)
    day = solpos["apparent_zenith"].to_numpy() < 90.0
    n_step = len(weather.time_utc)
    out = np.zeros((n_step, p_peak.size))
    if day.any():
        zen = solpos["apparent_zenith"].to_numpy()[day, None]
        azs = solpos["azimuth"].to_numpy()[day, None]
        mid = interval_midpoints_utc(weather.time_utc)[day]
        dni_extra = pvlib.irradiance.get_extra_radiation(mid).to_numpy()[:, None]
        am_rel = pvlib.atmosphere.get_relative_airmass(zen)
        ghi = weather.ghi_w_m2[day, None]
        dni = weather.dni_w_m2[day, None]
        dhi = weather.dhi_w_m2[day, None]
        o_tilt, o_azim = orient[None, :, 0], orient[None, :, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            # Perez et al. (1990) anisotropic sky, as pvlib ModelChain 'perez'
            poa = pvlib.irradiance.get_total_irradiance(
                o_tilt, o_azim, zen, azs, dni, ghi, dhi, dni_extra=dni_extra, airmass=am_rel,
                albedo=ALBEDO_FRAC, model="perez",
            )
            aoi = pvlib.irradiance.aoi(o_tilt, o_azim, zen, azs)
            # Fresnel/Snell glass cover (De Soto et al. 2006), pvlib ModelChain 'physical'
            iam = pvlib.iam.physical(aoi)
        poa_direct = np.nan_to_num(np.asarray(poa["poa_direct"]))
        poa_diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"]))
        poa_global = np.nan_to_num(np.asarray(poa["poa_global"]))
        # ModelChain applies the IAM to the beam only (diffuse IAM neglected)
        effective_w_m2 = np.clip(poa_direct * np.nan_to_num(iam) + poa_diffuse, 0.0, None)
        prm = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][Racking(racking).value]
        t_cell_degc = pvlib.temperature.sapm_cell(
            np.clip(poa_global, 0.0, None), weather.t_amb_degc[day, None],
            weather.wind_speed_10m_m_s[day, None], **prm,
        )
        pdc_per_kwp = pvlib.pvsystem.pvwatts_dc(effective_w_m2, t_cell_degc, 1.0, gamma_pdc_per_degc)
        pdc_kw = pdc_per_kwp[:, sys_orient] * (p_peak * (1.0 - loss))[None, :]
        p_ac_rated_kw = p_peak / dcac
        # pvlib.inverter.pvwatts: pdc0 is the inverter DC input limit = AC rating / eta_nom
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # pdc -> 0 at dusk
            pac_kw = pvlib.inverter.pvwatts(pdc_kw, p_ac_rated_kw / inverter_efficiency_frac,
                                            eta_inv_nom=inverter_efficiency_frac)
        out[day] = np.clip(np.nan_to_num(np.asarray(pac_kw, dtype=np.float64)), 0.0, p_ac_rated_kw) * avail
    return out[:, 0] if scalar else out


@dataclass(frozen=True)
class RoofOrientation:
    """One roof orientation class of a rooftop mix.

    Attributes
    ----------
    name : str
    share_frac : float
        Share of installed rooftop kWp [-].
    surface_tilt_deg : float
        [deg from horizontal]
    surface_azimuth_deg : float
        [deg clockwise from north]
    """

    name: str
    share_frac: float
    surface_tilt_deg: float
    surface_azimuth_deg: float


#: Dutch rooftop PV orientation mix (shares of installed kWp).  Justification:
#: Killinger et al. (2018), "On the search for representative characteristics
#: of PV systems", Solar Energy 173, found Dutch residential systems centred on
#: south (azimuth spread roughly ±60°) at pitched-roof tilts of 30-45°; Dutch
#: terraced houses mostly have one pitched roof face on the sunnier side, and
#: flat roofs (apartment blocks, extensions) carry low-tilt south or east-west
#: racks at 10-15°.  The shares below are a rounded judgement consistent with
#: that, not a measured census -- replace with local Zonatlas data if available.
DEFAULT_ORIENTATION_MIX: tuple[RoofOrientation, ...] = (
    RoofOrientation("S", 0.30, 35.0, 180.0),
    RoofOrientation("SE", 0.15, 35.0, 135.0),
    RoofOrientation("SW", 0.15, 35.0, 225.0),
    RoofOrientation("E", 0.125, 35.0, 90.0),
    RoofOrientation("W", 0.125, 35.0, 270.0),
    RoofOrientation("flat", 0.15, 12.0, 180.0),
)

#: Residential DC/AC ratio: Dutch string inverters are commonly sized ~10 %
#: below the array's kWp (a DC/AC ratio of ~1.1; installer practice, cf. the
#: PVWatts default DC/AC ratio of 1.2, Dobos 2014).
ROOFTOP_DC_AC_RATIO = 1.1


def rooftop_pv_kw_per_kwp(
    weather: Weather,
    orientation_mix: tuple[RoofOrientation, ...] = DEFAULT_ORIENTATION_MIX,
) -> np.ndarray:
    """AC power of 1 kWp of rooftop PV spread over a mix of orientations.

    Parameters
    ----------
    weather : Weather
    orientation_mix : tuple of RoofOrientation
        Shares must sum to 1.

    Returns
    -------
    numpy.ndarray
        AC power per installed kWp [kW/kWp], shape ``[n_step]``; multiply by
        the installed rooftop kWp.
    """
    share = np.array([o.share_frac for o in orientation_mix])
    if abs(share.sum() - 1.0) > 1e-6 or np.any(share < 0):
        raise ValueError(f"orientation_mix shares must be >= 0 and sum to 1 (got sum {share.sum():g})")
    p_kw = pv_ac_power_kw(
        weather,
        p_peak_kwp=share,
        surface_tilt_deg=np.array([o.surface_tilt_deg for o in orientation_mix]),
        surface_azimuth_deg=np.array([o.surface_azimuth_deg for o in orientation_mix]),
        dc_ac_ratio=ROOFTOP_DC_AC_RATIO,
        racking=Racking.close_mount_glass_glass,
    )
    return p_kw.sum(axis=1)


@dataclass(frozen=True)
class SolarField:
    """A ground-mounted solar field.

    Attributes
    ----------
    name : str
    p_peak_kwp : float
        DC nameplate [kWp].
    surface_tilt_deg, surface_azimuth_deg : float
        [deg]
    dc_ac_ratio : float
        DC nameplate / grid-connection AC rating [-].
    availability_frac : float
        [-]
    system_loss_frac : float
        [-]
    """

    name: str
    p_peak_kwp: float
    surface_tilt_deg: float = 15.0
    surface_azimuth_deg: float = 180.0
    dc_ac_ratio: float = 1.25
    availability_frac: float = 0.98
    system_loss_frac: float = 0.14


#: Twence zonnepark Boeldershoek-West, Hengelo: 17.5 MWp (hengelo.md).  Tilt,
#: azimuth and DC/AC ratio are not published; 15° south and DC/AC 1.25 are
#: typical of Dutch ground-mounted parks, which size the grid connection
#: below peak because Dutch grid capacity is scarce (assumption).
#: Availability 98 % is a typical utility-PV value (assumption).
BOELDERSHOEK_WEST = SolarField("Boeldershoek-West", 17_500.0)


def solar_field_ac_kw(weather: Weather, field: SolarField) -> np.ndarray:
    """AC power of a solar field at its grid connection [kW], shape ``[n_step]``.

    Parameters
    ----------
    weather : Weather
    field : SolarField

    Returns
    -------
    numpy.ndarray
        AC power [kW], clipped at ``p_peak_kwp / dc_ac_ratio`` and scaled by availability.
    """
    return pv_ac_power_kw(
        weather, p_peak_kwp=field.p_peak_kwp, surface_tilt_deg=field.surface_tilt_deg,
        surface_azimuth_deg=field.surface_azimuth_deg, dc_ac_ratio=field.dc_ac_ratio,
        system_loss_frac=field.system_loss_frac, availability_frac=field.availability_frac,
        racking=Racking.open_rack_glass_polymer,
    )

"""Scenario file format, version 1, as pydantic models.

Constraints live next to the field they constrain.  References to other
parts of the scenario (an asset's wijk) and to the equipment catalogue (a
turbine model, a cable type) are checked by field validators that read the
validation context, so every bad reference is reported in the same pass as
every other problem (see `energy_sim.scenario.validate`).

Every numeric key carries its unit (``p_peak_kwp``, ``hub_height_m``); counts
(``dwellings``, ``count``) and fractions (``*_frac``, 0..1) are unitless.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

SCHEMA_VERSION = 1
_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class StrictModel(BaseModel):
    """Unknown keys are errors; values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --------------------------------------------------------------------------
# references, checked against the validation context


def _reference(kind: str, what: str):
    """A validator checking that a name exists in ``context[kind]``."""

    def check(value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(kind)
        if known is None or value in known:
            return value
        from difflib import get_close_matches

        close = get_close_matches(value, sorted(known), n=1, cutoff=0.5)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        elif known:
            hint = f"; known: {', '.join(sorted(known)[:8])}"
        else:
            hint = " (the catalogue has no entries of this kind)"
        raise PydanticCustomError(
            "unknown_reference",
            "is not a known {what}{hint}",
            {"what": what, "hint": hint},
        )

    return AfterValidator(check)


WijkRef = Annotated[str, _reference("wijk_codes", "wijk code in this scenario")]
TurbineRef = Annotated[str, _reference("wind_turbines", "wind turbine type in the catalogue (models/wind_turbines.yaml)")]
HeatPumpRef = Annotated[str, _reference("heat_pumps", "heat pump in the catalogue (models/heat_pumps.yaml)")]
ArchetypeRef = Annotated[str, _reference("building_archetypes", "building archetype in the catalogue (models/building_archetypes.yaml)")]
LineTypeRef = Annotated[str, _reference("line_types", "cable type (pandapower standard type or models/grid_types.yaml)")]
TrafoTypeRef = Annotated[str, _reference("trafo_types", "transformer type (pandapower standard type or models/grid_types.yaml)")]


def _to_datetime(value: Any) -> Any:
    """Accept a date (midnight local time) or a datetime."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


LocalDatetime = Annotated[dt.datetime, BeforeValidator(_to_datetime)]


# --------------------------------------------------------------------------
# sections


class Meta(StrictModel):
    name: str = Field(
        description="Short identifier; results go to <outputs.directory>/<name>/. Lower-case letters, digits, '-', '_', '.'.",
        json_schema_extra={"pattern": _NAME_PATTERN.pattern},
    )
    version: str = Field("1", max_length=32, description="Version of this scenario, free text.")
    author: str = Field("", max_length=200)
    description: str = Field("", max_length=4000)
    schema_version: Literal[1] = Field(1, description="Version of the scenario file format.")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME_PATTERN.fullmatch(value):
            raise PydanticCustomError(
                "name_format",
                "must be 1-64 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit "
                "(it names the results folder)",
            )
        return value


class Horizon(StrictModel):
    start: LocalDatetime = Field(description="First simulated moment; a date means midnight in `timezone`.")
    end: LocalDatetime = Field(description="End of the horizon (exclusive).")
    resolution_min: Literal[5, 10, 15, 30, 60] = Field(15, description="Length of a time step [min].")
    timezone: str = Field("Europe/Amsterdam", description="IANA time zone of dates without offset and of reports.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError("unknown_timezone", "is not a known IANA time zone (e.g. 'Europe/Amsterdam')")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "Horizon":
        start, end = self.start_utc, self.end_utc
        if end <= start:
            raise PydanticCustomError("end_before_start", "end must be after start")
        if end - start > dt.timedelta(days=366 * 5):
            raise PydanticCustomError("horizon_too_long", "horizon is limited to 5 years")
        return self

    def _aware(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(self.timezone))
        return moment.astimezone(dt.timezone.utc)

    @property
    def start_utc(self) -> dt.datetime:
        return self._aware(self.start)

    @property
    def end_utc(self) -> dt.datetime:
        return self._aware(self.end)

    @property
    def dt_h(self) -> float:
        return self.resolution_min / 60.0


class WeatherSource(StrEnum):
    synthetic = "synthetic"
    knmi = "knmi"
    csv = "csv"
    netcdf = "netcdf"


class Weather(StrictModel):
    source: WeatherSource = Field(WeatherSource.synthetic, description="synthetic: the embedded Twente climate year.")
    path: str | None = Field(None, description="Weather file, relative to the scenario file (knmi, csv, netcdf).")
    latitude_deg: float = Field(52.274, ge=-90, le=90, description="Site latitude (default KNMI 290 Twenthe).")
    longitude_deg: float = Field(6.891, ge=-180, le=180)
    fill_gaps: Literal["none", "interpolate"] = Field("none", description="How gaps in weather files are filled.")

    @model_validator(mode="after")
    def _path_when_file(self) -> "Weather":
        if self.source != WeatherSource.synthetic and not self.path:
            raise PydanticCustomError("path_required", "weather.path is required for source {source!r}", {"source": self.source.value})
        return self


class GridSource(StrEnum):
    generated = "generated"
    pandapower_json = "pandapower_json"
    simbench = "simbench"


class LoadFlowSolver(StrEnum):
    batched = "batched"
    pandapower = "pandapower"


#: A 110/10 kV station further than this from every wijk centre is a mistake
#: (swapped coordinates, another city's station) [km]. Hengelo's wijk
#: centres lie within ~5 km of each other; 30 km leaves room for a rural
#: municipality fed from a neighbouring town.
MAX_STATION_DISTANCE_KM = 30.0


def _distance_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance on a 6,371 km sphere (haversine) [km]."""
    import math

    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class Station(StrictModel):
    """A 110/10 kV station (HV/MV substation) that feeds the generated 10 kV network."""

    name: str = Field(min_length=1, max_length=80, description="Station name, e.g. 'Hengelo Weideweg'.")
    lon_deg: float = Field(ge=-180, le=180, description="Longitude [deg, WGS84].")
    lat_deg: float = Field(ge=-90, le=90, description="Latitude [deg, WGS84].")

    @model_validator(mode="after")
    def _near_the_wijken(self, info: ValidationInfo) -> "Station":
        centres = (info.context or {}).get("wijk_centres") or []
        if centres:
            nearest_km = min(_distance_km(self.lon_deg, self.lat_deg, lon, lat) for lon, lat in centres)
            if nearest_km > MAX_STATION_DISTANCE_KM:
                raise PydanticCustomError(
                    "station_far",
                    "lies {km:.0f} km from the nearest wijk centre (more than {limit:.0f} km); "
                    "are lon_deg and lat_deg swapped?",
                    {"km": nearest_km, "limit": MAX_STATION_DISTANCE_KM},
                )
        return self


def _check_given_source(source: str, path: str | None, simbench_code: str | None, prefix: str = "") -> None:
    """A given grid names a file (pandapower_json) or a SimBench code (simbench), the one its source reads."""
    if source == "pandapower_json" and not path:
        raise PydanticCustomError("path_required", f"{prefix}path is required for source 'pandapower_json'")
    if source == "simbench" and not simbench_code:
        raise PydanticCustomError("path_required", f"{prefix}simbench_code is required for source 'simbench'")
    if source == "pandapower_json" and simbench_code:
        raise PydanticCustomError("not_applicable", f"{prefix}simbench_code applies to source 'simbench' only")
    if source == "simbench" and path:
        raise PydanticCustomError("not_applicable", f"{prefix}path applies to source 'pandapower_json' only")


class GivenGridSource(StrEnum):
    pandapower_json = "pandapower_json"
    simbench = "simbench"


class WijkGrid(StrictModel):
    """A wijk's LV grids as given by the grid operator (see `energy_sim.grid.given`)."""

    source: GivenGridSource = Field(
        description="pandapower_json: a file written by pandapower.to_json; simbench: a grid shipped with the "
                    "simbench package. The net is split at its MV/LV transformers (LV side below 1 kV); its loads "
                    "are the connection points the wijk's dwellings are spread over evenly, and its own loads and "
                    "generators are replaced by the scenario's. The MV network above is generated.")
    path: str | None = Field(None, description="pandapower JSON file (source pandapower_json), relative to the scenario "
                                               "file. Read only if it names pandapower, pandas, numpy, shapely and "
                                               "geojson objects.")
    simbench_code: str | None = Field(None, description="SimBench grid code (source simbench), e.g. '1-LV-rural1--0-sw'.")

    @model_validator(mode="after")
    def _source_fields(self) -> "WijkGrid":
        _check_given_source(self.source.value, self.path, self.simbench_code)
        return self


class Grid(StrictModel):
    source: GridSource = Field(
        GridSource.generated,
        description="generated: LV grids per wijk and the MV network generated from the wijken (a wijk may give "
                    "its own LV grids in wijken[].grid). pandapower_json / simbench: one net for the whole city, MV "
                    "and LV: its MV part is the MV network (stations from its ext_grids, normally-open points from "
                    "its open line switches), its LV grids go to the wijk named in net.bus.zone (or all to the one "
                    "simulated wijk); the scenario's MV connections attach to the MV bus nearest their wijk.")
    path: str | None = Field(None, description="pandapower JSON file (source pandapower_json), relative to the scenario.")
    simbench_code: str | None = Field(None, description="SimBench grid code (source simbench).")
    homes_per_trafo: int = Field(175, ge=20, le=500, description="Target homes per MV/LV transformer (Dutch practice 150-200).")
    feeders_per_trafo: int = Field(6, ge=1, le=12, description="LV feeders per transformer (Dutch practice 4-8).")
    lv_cable_type: LineTypeRef = Field("NAYY 4x150 SE")
    trafo_type: TrafoTypeRef = Field("0.63 MVA 10/0.4 kV")
    voltage_band_pu: tuple[float, float] = Field(
        (0.90, 1.10), description="Allowed voltage band (EN 50160: +/-10 % of nominal)."
    )
    solver: LoadFlowSolver = Field(
        LoadFlowSolver.batched,
        description="batched: our vectorised solver; pandapower: pandapower.runpp per step and net, the reference "
                    "(short runs only: at most 50,000 runpp calls).",
    )
    stations: list[Station] = Field(
        default_factory=list, max_length=20,
        description="110/10 kV stations of the generated 10 kV network; each MV/LV substation is fed from the "
                    "nearest. Empty: one station at the mean position of the substations (a placeholder).",
    )

    @field_validator("voltage_band_pu")
    @classmethod
    def _band(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (0.5 <= low < 1.0 < high <= 1.5):
            raise PydanticCustomError("voltage_band", "must be [low, high] with 0.5 <= low < 1 < high <= 1.5")
        return value

    @model_validator(mode="after")
    def _source_fields(self) -> "Grid":
        _check_given_source(self.source.value, self.path, self.simbench_code, "grid.")
        if self.source != GridSource.generated and self.stations:
            raise PydanticCustomError("not_applicable", "grid.stations applies to generated MV networks; a given "
                                      "city net brings its own stations (its ext_grids)")
        return self


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Adoption(StrictModel):
    """Share of dwellings with each technology [0..1]."""

    pv_frac: Fraction = 0.0
    heat_pump_frac: Fraction = Field(0.0, description="All-electric heat pumps.")
    hybrid_heat_pump_frac: Fraction = 0.0
    ev_frac: Fraction = Field(0.0, description="Dwellings with an electric car charged at home.")
    home_battery_frac: Fraction = 0.0

    @model_validator(mode="after")
    def _heat_shares(self) -> "Adoption":
        if self.heat_pump_frac + self.hybrid_heat_pump_frac > 1.0 + 1e-9:
            raise PydanticCustomError("share_sum", "heat_pump_frac + hybrid_heat_pump_frac must be <= 1")
        return self


class Wijk(StrictModel):
    code: str = Field(pattern=r"^WK\d{6}$", description="CBS wijk code, e.g. WK016405.")
    name: str = Field(min_length=1, max_length=100)
    dwellings: int = Field(ge=1, le=200_000)
    electricity_kwh_per_dwelling_per_year: float = Field(2900.0, gt=0, le=20_000)
    lon_deg: float = Field(ge=-180, le=180)
    lat_deg: float = Field(ge=-90, le=90)
    building_archetype: ArchetypeRef = Field("average_dwelling", description="Heat demand of its homes (models/building_archetypes.yaml).")
    heat_pump_model: HeatPumpRef = Field("air_source_8kw", description="All-electric heat pump type (models/heat_pumps.yaml).")
    hybrid_heat_pump_model: HeatPumpRef = Field("hybrid_4kw", description="Hybrid heat pump type (models/heat_pumps.yaml).")
    pv_kwp_per_home: float = Field(4.0, gt=0, le=50, description="Installed rooftop PV per adopting home [kWp].")
    adoption: Adoption = Adoption()
    grid: WijkGrid | None = Field(
        None, description="The wijk's LV grids from a pandapower JSON file or a SimBench code; default: generated "
                          "from its dwellings (grid.homes_per_trafo, grid.feeders_per_trafo ...). Not with a "
                          "whole-city net in grid.source.")
    simulate: bool = Field(True, description="Set false to keep a wijk in the file but leave it out of runs.")


class Dated(StrictModel):
    commissioned: dt.date | None = Field(None, description="First day in operation (None: before the horizon).")
    decommissioned: dt.date | None = Field(None, description="First day out of operation (None: after the horizon).")

    @model_validator(mode="after")
    def _dates(self) -> "Dated":
        if self.commissioned and self.decommissioned and self.decommissioned <= self.commissioned:
            raise PydanticCustomError("end_before_start", "decommissioned must be after commissioned")
        return self


AssetName = Annotated[str, Field(min_length=1, max_length=100)]


class SolarField(Dated):
    name: AssetName
    wijk: WijkRef
    p_peak_kwp: float = Field(gt=0, le=1_000_000)
    tilt_deg: float = Field(20.0, ge=0, le=90)
    azimuth_deg: float = Field(180.0, ge=0, lt=360, description="Compass direction the modules face, 180 = south.")
    dc_ac_ratio: float = Field(1.2, ge=0.5, le=2.5)
    availability_frac: Fraction = 0.98


class WindTurbine(Dated):
    name: AssetName
    wijk: WijkRef
    model: TurbineRef
    hub_height_m: float = Field(gt=20, le=250)
    count: int = Field(1, ge=1, le=200)
    availability_frac: Fraction = 0.97


class HeatNetwork(Dated):
    name: AssetName
    wijk: WijkRef
    connected_dwellings: int = Field(ge=0, le=200_000)
    heat_pump_p_th_kw: float = Field(0.0, ge=0, description="Residual-heat upgrade heat pumps, thermal [kW].")
    e_boiler_p_kw: float = Field(0.0, ge=0)
    gas_boiler_p_th_kw: float = Field(0.0, ge=0)
    buffer_e_kwh: float = Field(0.0, ge=0)


class ChargerKind(StrEnum):
    public = "public"
    workplace = "workplace"
    fast = "fast"
    bus_depot = "bus_depot"


class ChargerPark(Dated):
    name: AssetName
    wijk: WijkRef
    kind: ChargerKind = ChargerKind.public
    count: int = Field(ge=1, le=10_000)
    p_kw: float = Field(11.0, gt=0, le=1000, description="Power per charge point [kW].")


class BatteryDispatch(StrEnum):
    self_consumption = "self_consumption"
    peak_shaving = "peak_shaving"


class Battery(Dated):
    name: AssetName
    wijk: WijkRef
    p_kw: float = Field(gt=0, le=500_000)
    e_kwh: float = Field(gt=0, le=2_000_000)
    dispatch: BatteryDispatch = BatteryDispatch.peak_shaving


class Assets(StrictModel):
    solar_fields: list[SolarField] = []
    wind_turbines: list[WindTurbine] = []
    heat_networks: list[HeatNetwork] = []
    ev_chargers: list[ChargerPark] = []
    batteries: list[Battery] = []


class ChargingPolicy(StrEnum):
    uncontrolled = "uncontrolled"
    off_peak = "off_peak"
    smart = "smart"


class Measure(StrEnum):
    smart_charging = "smart_charging"
    heat_pump_flexibility = "heat_pump_flexibility"
    battery_dispatch = "battery_dispatch"
    curtailment = "curtailment"
    flexible_connections = "flexible_connections"


class ManagerForecast(StrEnum):
    persistence = "persistence"
    weather = "weather"


class CongestionManager(StrictModel):
    enabled: bool = False
    block_h: int = Field(24, ge=1, le=24 * 7, description="Control block length [h] (day-ahead: 24).")
    measures: list[Measure] = Field(
        default_factory=lambda: [Measure.smart_charging, Measure.flexible_connections, Measure.battery_dispatch,
                                 Measure.curtailment],
        description="Measures the manager may apply (the default: all but the experimental heat_pump_flexibility); "
                    "it plans them in a fixed order: charging caps (smart_charging, flexible_connections), "
                    "heat_pump_flexibility, curtailment, battery_dispatch. What each does: smart_charging, "
                    "flexible_connections, "
                    "curtailment (rooftop PV per MV/LV transformer; MV solar fields and wind turbines by a feed-in "
                    "limit per block where they load the HV/MV station or an MV cable above the target), "
                    "battery_dispatch (an LV battery on a transformer forecast above the target holds its grid's net "
                    "load to the target for the block: a peak-shaving one to the lower of that and its own "
                    "threshold, a self-consumption one peak-shaves to it instead; MV batteries follow their own rule) "
                    "and heat_pump_flexibility (experimental: with the day-before forecast its rebound can land on a "
                    "colder day's peak).")
    target_loading_pct: float = Field(
        100.0, ge=50.0, le=150.0,
        description="Loading the manager plans to stay below [%]; below 100 leaves a margin for forecast errors.")
    forecast: ManagerForecast = Field(
        ManagerForecast.persistence,
        description="What the manager expects of the next block: persistence (the block before, as it was) or "
                    "weather (the block before, with heat pumps recomputed for a day-ahead temperature forecast).")
    forecast_temperature_error_k: float = Field(
        1.0, ge=0.0, le=10.0,
        description="Standard deviation of the day-ahead temperature forecast error [K] (forecast: weather); "
                    "one draw per block.")


class Policies(StrictModel):
    charging: ChargingPolicy = ChargingPolicy.uncontrolled
    congestion_manager: CongestionManager = CongestionManager()


# --------------------------------------------------------------------------
# outages


class OutageKind(StrEnum):
    """What an outage takes out of service."""

    #: the 10 kV ring cable that feeds an MV/LV substation in normal operation
    mv_cable = "mv_cable"
    #: an MV/LV transformer: its LV grid is without supply
    mv_lv_transformer = "mv_lv_transformer"
    #: a wind turbine asset (all its turbines): no production
    wind_turbine = "wind_turbine"
    #: a solar field asset: no production
    solar_field = "solar_field"


#: Which names an outage's ``element`` refers to, per kind (validation context key, what it is).
OUTAGE_ELEMENT_REFERENCES = {
    OutageKind.mv_cable: ("substations", "MV/LV substation of this scenario (mv_cable names the substation its cable feeds)"),
    OutageKind.mv_lv_transformer: ("substations", "MV/LV substation of this scenario"),
    OutageKind.wind_turbine: ("wind_turbine_names", "wind turbine in assets.wind_turbines"),
    OutageKind.solar_field: ("solar_field_names", "solar field in assets.solar_fields"),
}


class OutageRates(StrictModel):
    """Overrides of one kind's random-outage model; unset values keep the cited defaults
    (`energy_sim.events.outages`)."""

    enabled: bool = Field(True, description="Draw random outages of this kind (when random outages are enabled).")
    failures_per_year: float | None = Field(None, gt=0, le=1000, description="Failure rate per element [1/yr].")
    repair_median_h: float | None = Field(None, gt=0, le=8760, description="Median repair time [h].")
    repair_sigma: float | None = Field(None, ge=0, le=3, description="Log standard deviation of the repair time [-].")


class CableOutageRates(StrictModel):
    """Overrides of the random MV cable outage model (see `energy_sim.events.outages.MV_CABLE`)."""

    enabled: bool = Field(True, description="Draw random outages of MV ring cables (when random outages are enabled).")
    failures_per_km_year: float | None = Field(None, gt=0, le=100, description="Failure rate per km of cable [1/(km yr)].")
    repair_median_h: float | None = Field(None, gt=0, le=8760, description="Median repair time [h].")
    repair_sigma: float | None = Field(None, ge=0, le=3, description="Log standard deviation of the repair time [-].")
    switching_h: float | None = Field(
        None, ge=0, le=168,
        description="Time until the operator has isolated the fault and closed the ring's normally-open switch [h]; "
                    "until then the substations behind the fault are without supply.")


class RandomOutages(StrictModel):
    enabled: bool = Field(False, description="Draw random failures and repairs (seeded by `seed`).")
    mv_lv_transformer: OutageRates = OutageRates()
    wind_turbine: OutageRates = Field(OutageRates(), description="Per turbine: an asset with count 3 has 3 turbines.")
    mv_cable: CableOutageRates = CableOutageRates()


class PlannedOutage(StrictModel):
    """An element out of service from `start` to `end`, named by the planner (an N-1 study, planned work)."""

    name: str | None = Field(None, min_length=1, max_length=100, description="Label in the results (optional).")
    kind: OutageKind
    element: str = Field(
        min_length=1, max_length=100,
        description="mv_cable, mv_lv_transformer: a substation id '<wijk code>/MSR<nn>' (nn = 01, 02, ... per wijk; "
                    "for a wijk with a given grid '<wijk code>/<transformer name in the given net>'; "
                    "mv_cable takes out the 10 kV cable feeding it); wind_turbine, solar_field: the asset's name.")
    start: LocalDatetime = Field(description="First moment out of service; a date means midnight in horizon.timezone.")
    end: LocalDatetime = Field(description="Back in service (exclusive).")
    restore: bool | None = Field(
        None, description="mv_cable only: the operator closes the ring's normally-open switch so every substation "
                          "stays supplied (default true); false leaves the substations behind the cable unsupplied.")

    @field_validator("element")
    @classmethod
    def _known_element(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        context = info.context or {}
        if kind is None or kind not in OUTAGE_ELEMENT_REFERENCES:
            return value
        key, what = OUTAGE_ELEMENT_REFERENCES[kind]
        known = context.get(key)
        if known is None or value in known:
            return value
        reason = (context.get("substation_hints") or {}).get(value.split("/")[0]) if key == "substations" else None
        if reason is None:
            from difflib import get_close_matches

            close = get_close_matches(value, sorted(known), n=1, cutoff=0.5)
            reason = f"did you mean {close[0]!r}?" if close else (
                f"known: {', '.join(sorted(known)[:8])}" if known else "there are none in this scenario")
        raise PydanticCustomError("unknown_reference", "is not a known {what}; {reason}", {"what": what, "reason": reason})

    @model_validator(mode="after")
    def _window(self, info: ValidationInfo) -> "PlannedOutage":
        zone = zoneinfo.ZoneInfo((info.context or {}).get("timezone") or "Europe/Amsterdam")
        aware = [t if t.tzinfo is not None else t.replace(tzinfo=zone) for t in (self.start, self.end)]
        if aware[1] <= aware[0]:
            raise PydanticCustomError("end_before_start", "end must be after start")
        if self.restore is not None and self.kind != OutageKind.mv_cable:
            raise PydanticCustomError("restore_not_applicable", "restore applies to kind mv_cable only")
        return self


class Outages(StrictModel):
    """Outages applied to the grid in runs: random failures and planned (what-if) outages."""

    random: RandomOutages = RandomOutages()
    planned: list[PlannedOutage] = []


class OutputFormat(StrEnum):
    netcdf = "netcdf"
    csv = "csv"


class Outputs(StrictModel):
    directory: str = Field("results", description="Results folder, relative to the working folder.")
    formats: list[OutputFormat] = [OutputFormat.netcdf]


class Scenario(StrictModel):
    """A complete, validated scenario (after `extends` is resolved)."""

    meta: Meta
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of every random draw in the run.")
    horizon: Horizon
    weather: Weather = Weather()
    grid: Grid = Grid()
    wijken: list[Wijk] = Field(min_length=1)
    assets: Assets = Assets()
    policies: Policies = Policies()
    outages: Outages = Outages()
    outputs: Outputs = Outputs()

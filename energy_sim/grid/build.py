"""Generated Hengelo grids: LV grids per MV/LV substation and the 10 kV network.

The builders turn simple inputs (dwellings per wijk, wijk coordinates, lists of
extra connections) into pandapower nets, following DESIGN.md decision 4: each
wijk has one or more LV grids under MV/LV transformers, each LV grid is a
standalone net with its external grid on the 10 kV side of its transformer (so
it can be solved alone given the MV voltage), and one 10 kV net connects all
MV/LV substations to the 110/10 kV station(s).

Every builder is deterministic for a given :class:`numpy.random.Generator`;
no global random state is used. All loads and generators are created
with ``p_mw = 0`` as placeholders: the engine writes the profiles, using the
``connections`` tables to map each connection to its pandapower element.

Sources for the default numbers are given at each parameter; the catalogue of
cable and transformer types with sources is ``models/grid_types.yaml``.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandapower as pp
import pandas as pd

__all__ = [
    "CityGrid",
    "ConnectionKind",
    "LvConnection",
    "LvGrid",
    "LvGridParameters",
    "MvConnection",
    "MvGrid",
    "MvGridParameters",
    "StationSite",
    "SubstationSite",
    "WijkSpec",
    "add_element",
    "build_city_grid",
    "build_lv_grid",
    "build_mv_grid",
    "build_wijk_grids",
    "connections_frame",
    "copy_net",
    "element_of_kind",
    "load_grid_types",
    "local_xy_m",
    "n_feeders_for",
    "n_substations",
    "place_substations",
    "template_net",
]

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius [m] (IUGG), for the local equirectangular projection."""

CONNECTION_COLUMNS = [
    "connection_id",
    "kind",
    "bus",
    "element",
    "element_index",
    "feeder",
]
"""Leading columns of every ``connections`` table."""


class ConnectionKind(StrEnum):
    """Kind of grid connection; decides the pandapower element it gets."""

    household = "household"
    rooftop_pv = "rooftop_pv"
    ev_charger = "ev_charger"
    heat_pump = "heat_pump"
    battery = "battery"
    solar_field = "solar_field"
    wind_turbine = "wind_turbine"
    heat_plant = "heat_plant"
    charging_hub = "charging_hub"
    other_load = "other_load"
    substation = "substation"


_GENERATOR_KINDS = frozenset(
    {ConnectionKind.rooftop_pv, ConnectionKind.solar_field, ConnectionKind.wind_turbine}
)


def element_of_kind(kind: ConnectionKind | str) -> str:
    """Return the pandapower element table for a connection kind.

    Generators (PV, solar fields, wind turbines) are ``sgen`` (positive =
    production); everything else is a ``load`` (positive = consumption),
    following pandapower's sign convention (DESIGN.md, "Units and names").

    Batteries are loads with a signed power: positive while charging,
    negative while feeding in. That is pandapower's ``storage`` convention
    too, and in a load flow a storage is the same constant-power injection
    as a load, so the solvers, which set load and sgen powers, carry
    batteries without a third element table (their energy capacity lives in
    the scenario and in `energy_sim.profiles.assets_in_runs`).
    """
    kind = ConnectionKind(kind)
    if kind in _GENERATOR_KINDS:
        return "sgen"
    return "load"


@functools.cache
def load_grid_types() -> dict[str, Any]:
    """Read the cable and transformer catalogue ``models/grid_types.yaml``.

    Returns
    -------
    dict
        ``{"lines": [...], "transformers": [...]}``, each entry a mapping with
        ``name`` (a pandapower standard type), ``role``, electrical values
        and ``source``.
    """
    from ruamel.yaml import YAML

    text = (importlib.resources.files("energy_sim.models") / "grid_types.yaml").read_text(
        encoding="utf-8"
    )
    return YAML(typ="safe").load(text)


# --------------------------------------------------------------------------
# Parameters and inputs
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LvGridParameters:
    """Sizing rules for generated LV grids (one per MV/LV substation).

    Parameters
    ----------
    homes_per_trafo_target : int
        Homes per MV/LV transformer aimed for [-]. 175 is the middle of the
        150-200 of Dutch practice (hengelo.md, "Grid parameters", Liander).
    homes_per_trafo_min, homes_per_trafo_max : int
        Band the wijk split keeps to whenever the wijk size allows it [-]
        (same source).
    homes_per_feeder_target : float
        Homes per LV feeder aimed for [-]. 30 gives 6 feeders for 175 homes,
        the middle of 4-8 feeders per transformer; Liander: one LV cable feeds
        10-150 homes (hengelo.md).
    feeders_min, feeders_max : int
        Feeders per transformer [-], 4-8 (hengelo.md).
    homes_per_feeder_min : int
        No feeder gets fewer homes than this when the grid is big enough [-]
        (10, hengelo.md / Liander).
    feeder_spread : float
        Dirichlet concentration of the split of homes over feeders [-]. 10
        gives feeders of 30 +- 9 homes for 175 homes (coefficient of variation
        sqrt((1 - 1/6) / (6 * 10 + 1)) = 0.29); assumption, real feeders are
        unequal.
    feeder_cable_type : str
        pandapower standard type of the LV feeders (hengelo.md: NAYY 4x150).
    service_cable_type : str
        pandapower standard type of the house-connection cables (see
        ``models/grid_types.yaml`` for why NAYY 4x50).
    trafo_type, small_trafo_type : str
        Transformer for normal and small substations (hengelo.md: 630 / 400
        kVA 10/0.4 kV).
    small_trafo_max_homes : int
        Substations with at most this many homes get ``small_trafo_type`` [-].
        At the 1.2 kW after-diversity planning peak, 100 homes load 400 kVA to
        30 %, leaving room for heat pumps and EVs (assumption).
    house_spacing_m : float
        Mean feeder cable length between consecutive house connections [m].
        SimBench LV grids shipped with simbench 1.6 have 9.7-19.9 m of cable
        per load and a median section of 11-17 m (1-LV-urban6, semiurb4/5,
        rural3; Meinecke et al., Energies 13(12):3290, 2020); 12 m fits
        Hengelo's terraced and semi-detached housing.
    spacing_jitter_frac : float
        Section lengths are uniform in ``house_spacing_m * (1 +- jitter)`` [-]
        (assumption).
    first_section_m : tuple of float
        Range of the cable length from the LV busbar to the first house
        connection [m], uniform (assumption: substations stand in the
        neighbourhood they serve).
    service_cable_m : tuple of float
        Range of the service-cable length [m], uniform. Dutch regulated
        connection tariffs cover up to 25 m of connection cable (ACM
        Tarievencode Elektriciteit); 5-20 m covers front-garden terraced
        housing (assumption).
    lv_vn_kv, mv_vn_kv : float
        Nominal voltages [kV]: 0.4 kV LV and 10 kV MV (hengelo.md).
    mv_vm_pu : float
        Voltage set at the external grid on the MV side [p.u.]; the engine
        overwrites it with the MV solution.
    """

    homes_per_trafo_target: int = 175
    homes_per_trafo_min: int = 150
    homes_per_trafo_max: int = 200
    homes_per_feeder_target: float = 30.0
    feeders_min: int = 4
    feeders_max: int = 8
    homes_per_feeder_min: int = 10
    feeder_spread: float = 10.0
    feeder_cable_type: str = "NAYY 4x150 SE"
    service_cable_type: str = "NAYY 4x50 SE"
    trafo_type: str = "0.63 MVA 10/0.4 kV"
    small_trafo_type: str = "0.4 MVA 10/0.4 kV"
    small_trafo_max_homes: int = 100
    house_spacing_m: float = 12.0
    spacing_jitter_frac: float = 0.4
    first_section_m: tuple[float, float] = (20.0, 80.0)
    service_cable_m: tuple[float, float] = (5.0, 20.0)
    lv_vn_kv: float = 0.4
    mv_vn_kv: float = 10.0
    mv_vm_pu: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.homes_per_trafo_min <= self.homes_per_trafo_target <= self.homes_per_trafo_max:
            problems.append(
                f"need 0 < homes_per_trafo_min <= homes_per_trafo_target <= homes_per_trafo_max "
                f"(got {self.homes_per_trafo_min}, {self.homes_per_trafo_target}, "
                f"{self.homes_per_trafo_max})"
            )
        if not 1 <= self.feeders_min <= self.feeders_max:
            problems.append(
                f"need 1 <= feeders_min <= feeders_max (got {self.feeders_min}, {self.feeders_max})"
            )
        if self.homes_per_feeder_target <= 0 or self.homes_per_feeder_min < 1:
            problems.append(
                f"homes_per_feeder_target must be > 0 and homes_per_feeder_min >= 1 (got "
                f"{self.homes_per_feeder_target}, {self.homes_per_feeder_min})"
            )
        if self.house_spacing_m <= 0 or not 0 <= self.spacing_jitter_frac < 1:
            problems.append(
                f"house_spacing_m must be > 0 and 0 <= spacing_jitter_frac < 1 (got "
                f"{self.house_spacing_m}, {self.spacing_jitter_frac})"
            )
        for label, (lo, hi) in (
            ("first_section_m", self.first_section_m),
            ("service_cable_m", self.service_cable_m),
        ):
            if not 0 < lo <= hi:
                problems.append(f"{label} must be a range 0 < low <= high (got ({lo}, {hi}))")
        if problems:
            raise ValueError("invalid LvGridParameters: " + "; ".join(problems))


@dataclass(frozen=True)
class MvGridParameters:
    """Sizing rules for the generated 10 kV network.

    Parameters
    ----------
    vn_kv : float
        MV nominal voltage [kV]; 10 kV is the Dutch distribution MV level
        (hengelo.md).
    cable_type : str
        pandapower standard type of the ring cables (see
        ``models/grid_types.yaml``: Al 240 mm2 XLPE, 7.2 MVA).
    substations_per_ring : int
        Maximum MV/LV substations per open ring [-]. 10 substations of 630 kVA
        at the 1.2 kW/home planning peak (175 homes) draw ~2.1 MW, well inside
        one cable's 7.2 MVA, so the ring can be fed from either end (N-1);
        assumption, Dutch urban rings carry roughly 5-15 substations.
    route_factor : float
        Cable length over straight-line distance [-]; cables follow streets.
        1.3 is a common detour factor for urban road networks (assumption).
    min_cable_m : float
        Shortest MV cable [m] (two substations never share a site).
    hv_vn_kv : float
        Nominal voltage of the external grid [kV] (TenneT 110 kV, hengelo.md).
    station_trafo_type : str
        110/10 kV transformer type (``models/grid_types.yaml``).
    station_trafos : int
        Parallel transformers per station [-]; 2 is the usual N-1 layout of
        Dutch HV/MV stations (assumption).
    station_tap_pos : int
        Fixed tap of the station transformers [-]. With 1.5 % per step on the
        HV side, -2 raises the 10 kV busbar ~3 % at no load, standing in for
        the on-load tap changer that holds Dutch 10 kV busbars near
        10.3-10.5 kV (assumption; the engine may set taps per block).
    hv_vm_pu : float
        Voltage of the 110 kV external grid [p.u.].
    dedicated_feeder_min_mw : float
        MV connections rated at least this get their own cable(s) from the
        nearest station busbar; smaller ones tee off the nearest substation
        [MW] (assumption: 2 MW is ~30 % of one ring cable).
    cable_utilisation : float
        Fraction of a cable's thermal rating a dedicated feeder is sized for
        [-] (assumption).
    connection_jitter_m : float
        MV connections without coordinates are placed uniformly within this
        radius of their wijk's centre [m] (assumption).
    """

    vn_kv: float = 10.0
    cable_type: str = "NA2XS2Y 1x240 RM/25 6/10 kV"
    substations_per_ring: int = 10
    route_factor: float = 1.3
    min_cable_m: float = 50.0
    hv_vn_kv: float = 110.0
    station_trafo_type: str = "63 MVA 110/10 kV"
    station_trafos: int = 2
    station_tap_pos: int = -2
    hv_vm_pu: float = 1.0
    dedicated_feeder_min_mw: float = 2.0
    cable_utilisation: float = 0.8
    connection_jitter_m: float = 500.0

    def __post_init__(self) -> None:
        problems = []
        if self.substations_per_ring < 1:
            problems.append(f"substations_per_ring must be >= 1 (got {self.substations_per_ring})")
        if self.route_factor < 1:
            problems.append(f"route_factor must be >= 1 (got {self.route_factor})")
        if self.station_trafos < 1:
            problems.append(f"station_trafos must be >= 1 (got {self.station_trafos})")
        if not 0 < self.cable_utilisation <= 1:
            problems.append(f"cable_utilisation must be in (0, 1] (got {self.cable_utilisation})")
        if problems:
            raise ValueError("invalid MvGridParameters: " + "; ".join(problems))


@dataclass(frozen=True)
class LvConnection:
    """An extra connection on an LV grid (public charger, battery, ...).

    Parameters
    ----------
    connection_id : str
        Unique id, used in the ``connections`` tables.
    kind : ConnectionKind or str
        Kind; decides the element (see :func:`element_of_kind`).
    wijk_code : str
        CBS wijk code (used by :func:`build_city_grid`).
    p_kw : float
        Rated power [kW], written to the element's ``sn_mva``.
    e_kwh : float
        Storage capacity for batteries [kWh]; kept with the connection, not
        written to the net (batteries are loads, see :func:`element_of_kind`).
    """

    connection_id: str
    kind: ConnectionKind | str
    wijk_code: str = ""
    p_kw: float = 0.0
    e_kwh: float = 0.0


@dataclass(frozen=True)
class MvConnection:
    """A connection on the 10 kV network (solar field, turbine, heat plant, ...).

    Parameters
    ----------
    connection_id : str
        Unique id.
    kind : ConnectionKind or str
        Kind; decides the element.
    wijk_code : str
        CBS wijk code the connection lies in.
    p_mw : float
        Rated power [MW]; sizes dedicated feeders.
    lon, lat : float, optional
        Position [deg, WGS84]; if absent, placed near the wijk's centre.
    e_mwh : float
        Storage capacity for batteries [MWh]; kept with the connection, not
        written to the net (batteries are loads, see :func:`element_of_kind`).
    """

    connection_id: str
    kind: ConnectionKind | str
    wijk_code: str
    p_mw: float
    lon: float | None = None
    lat: float | None = None
    e_mwh: float = 0.0


@dataclass(frozen=True)
class SubstationSite:
    """Position of one MV/LV substation.

    Parameters
    ----------
    substation_id : str
        Unique id (the :class:`LvGrid` name).
    wijk_code : str
        CBS wijk code.
    lon, lat : float
        Position [deg, WGS84].
    sn_mva : float
        Transformer rating [MVA] (informative).
    """

    substation_id: str
    wijk_code: str
    lon: float
    lat: float
    sn_mva: float = 0.63


@dataclass(frozen=True)
class StationSite:
    """A 110/10 kV station.

    Parameters
    ----------
    name : str
        Station name (e.g. "Hengelo Weideweg").
    lon, lat : float
        Position [deg, WGS84].
    """

    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class WijkSpec:
    """One wijk as input to :func:`build_city_grid`.

    Parameters
    ----------
    code : str
        CBS wijk code (``WK016405``).
    name : str
        Wijk name.
    dwellings : int
        Number of dwellings [-].
    lon, lat : float
        Centre [deg, WGS84] (hengelo.md).
    dwellings_per_ha : float
        Gross housing density, sizes the disc substations are spread over
        [1/ha]. 15 is an assumption for Hengelo's urban wijken (~37,000
        dwellings on roughly 2,500 ha of built-up land); set it lower for
        rural wijken.
    """

    code: str
    name: str
    dwellings: int
    lon: float
    lat: float
    dwellings_per_ha: float = 15.0


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LvGrid:
    """One MV/LV substation with its LV grid, solvable on its own.

    Attributes
    ----------
    name : str
        Substation id.
    net : pandapower.pandapowerNet
        ext_grid at ``mv_bus`` (10 kV), one transformer, the LV busbar,
        radial feeders. ``net.line`` and ``net.bus`` carry a ``feeder`` column
        (1-based; 0 for the busbar, -1 for the MV bus).
    connections : pandas.DataFrame
        One row per element the engine writes: ``connection_id``, ``kind``,
        ``bus``, ``element`` (``load``/``sgen``),
        ``element_index``, ``feeder``, ``position`` (house-connection number
        along the feeder, 0 = nearest the substation).
    mv_bus, lv_bus, trafo : int
        Indices of the MV bus, LV busbar and transformer.
    n_homes, n_feeders : int
        Homes and feeders [-].
    sn_mva : float
        Transformer rating [MVA].
    feeder_lines : tuple of int, optional
        ``net.line`` indices of the cables leaving the LV busbar. None
        (generated grids): the lines at ``lv_bus``. Given grids
        (`energy_sim.grid.given`) list them, as their busbar may be several
        buses joined by bus-bus switches.

    Rooftop PV belongs to the household whose connection id it extends:
    ``"<home id>/pv"`` (`energy_sim.grid.simulate.CitySolver` pairs them so).
    """

    name: str
    net: pp.pandapowerNet
    connections: pd.DataFrame
    mv_bus: int
    lv_bus: int
    trafo: int
    n_homes: int
    n_feeders: int
    sn_mva: float
    feeder_lines: tuple[int, ...] | None = None


@dataclass(frozen=True, eq=False)
class MvGrid:
    """The 10 kV network with its 110/10 kV station(s).

    Attributes
    ----------
    net : pandapower.pandapowerNet
        110 kV ext_grid per station, station transformers, 10 kV busbars,
        open rings (one normally-open line switch each) and MV connections.
    substations : pandas.DataFrame
        ``substation_id``, ``wijk_code``, ``station``, ``ring``, ``bus``,
        ``load`` (index of the load carrying the LV aggregate), ``x_m``,
        ``y_m`` (local projection).
    connections : pandas.DataFrame
        ``connection_id``, ``kind``, ``bus``, ``element``, ``element_index``,
        ``feeder`` (-1: MV), ``wijk_code``, ``station``, ``line``,
        ``parallel``, ``dedicated``.
    stations : pandas.DataFrame
        ``name``, ``hv_bus``, ``mv_bus``, ``trafo``, ``ext_grid``, ``lon``,
        ``lat``.
    open_switches : numpy.ndarray
        Indices in ``net.switch`` of the normally-open points, one per ring.
    """

    net: pp.pandapowerNet
    substations: pd.DataFrame
    connections: pd.DataFrame
    stations: pd.DataFrame
    open_switches: np.ndarray


@dataclass(frozen=True, eq=False)
class CityGrid:
    """All generated grids of a city.

    Attributes
    ----------
    lv_grids : dict of str to list of LvGrid
        LV grids per wijk code.
    mv : MvGrid
        The 10 kV network; its ``substations`` table links each LV grid (by
        ``substation_id``) to its MV bus and load.
    """

    lv_grids: dict[str, list[LvGrid]]
    mv: MvGrid

    @property
    def n_buses(self) -> int:
        """Total number of buses over all nets [-]."""
        return len(self.mv.net.bus) + sum(
            len(g.net.bus) for grids in self.lv_grids.values() for g in grids
        )


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


@functools.cache
def template_net() -> pp.pandapowerNet:
    # create_empty_network builds ~100 tables and the standard-type library;
    # a copy of a prepared empty net (copy_net) is far faster.
    return pp.create_empty_network()


def copy_net(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """An independent copy of a prepared net, ~20x faster than ``copy.deepcopy``.

    ``copy.deepcopy`` of a pandapower net deep-copies its ~120 tables column by
    column (pandapower's ``__deepcopy__`` does so for tables with a ``geo``
    column) and took ~70 ms, 15 s for the 210 grids of Hengelo. Here tables
    with rows are copied deeply; empty tables get a shallow copy, which is
    just as independent: an empty table has no values to change in place, so
    any change (new rows, new columns, results) gives the copy its own data.
    Everything else (options, the standard-type library) is deep-copied.
    """
    out = copy.copy(net)
    for key, value in net.items():
        if isinstance(value, pd.DataFrame):
            out[key] = value.copy(deep=len(value) > 0)
        elif not isinstance(value, (str, int, float, bool, type(None))):
            out[key] = copy.deepcopy(value)
    return out


def _empty_net(name: str) -> pp.pandapowerNet:
    net = copy_net(template_net())
    net.name = name
    return net


def _std_line(net: pp.pandapowerNet, std_type: str) -> Mapping[str, Any]:
    if not pp.std_type_exists(net, std_type, "line"):
        raise ValueError(
            f"line type {std_type!r} is not a pandapower standard type; see "
            f"models/grid_types.yaml for the types energy_sim uses"
        )
    return pp.load_std_type(net, std_type, "line")


def _check_trafo_type(net: pp.pandapowerNet, std_type: str) -> None:
    if not pp.std_type_exists(net, std_type, "trafo"):
        raise ValueError(
            f"transformer type {std_type!r} is not a pandapower standard type; see "
            f"models/grid_types.yaml for the types energy_sim uses"
        )


@functools.lru_cache(maxsize=8)
def _prototypes(feeder_cable_type: str, service_cable_type: str) -> dict[str, pd.DataFrame]:
    """One row per bulk table, made by pandapower's own create functions."""
    net = pp.create_empty_network()
    _std_line(net, feeder_cable_type)
    _std_line(net, service_cable_type)
    b = pp.create_buses(net, 2, 0.4, name=["a", "b"], feeder=np.array([1, 1]))
    pp.create_lines(net, [b[0]], [b[1]], 0.01, feeder_cable_type, name=["f"], feeder=np.array([1]))
    pp.create_lines(net, [b[0]], [b[1]], 0.01, service_cable_type, name=["s"], feeder=np.array([1]))
    pp.create_loads(net, [b[1]], p_mw=0.0, name=["l"])
    pp.create_sgens(net, [b[1]], p_mw=0.0, name=["g"])
    # extra connections were made one by one (pp.create_load), which can fill a few optional
    # columns differently from the bulk functions
    single = pp.create_empty_network()
    pp.create_load(single, pp.create_bus(single, 0.4), p_mw=0.0, sn_mva=1.0, name="l")
    return {
        "bus": net.bus.iloc[[0]],
        "feeder_line": net.line.iloc[[0]],
        "service_line": net.line.iloc[[1]],
        "load": net.load.iloc[[0]],
        "sgen": net.sgen.iloc[[0]],
        "single_load": single.load.iloc[[0]],
    }


def _broadcast(proto: pd.DataFrame, index: np.ndarray, **columns: Any) -> pd.DataFrame:
    """``len(index)`` copies of a one-row prototype with some columns replaced."""
    n = len(index)
    data = {}
    for col, dtype in proto.dtypes.items():
        if col in columns:
            values = columns[col]
            data[col] = np.full(n, values, dtype=dtype) if np.ndim(values) == 0 else np.asarray(values, dtype=dtype)
        else:
            data[col] = np.repeat(proto[col].to_numpy(), n)
    return pd.DataFrame(data, index=pd.Index(np.asarray(index), dtype=proto.index.dtype))


@functools.lru_cache(maxsize=8)
def _substation_template(trafo_type: str, mv_vn_kv: float, lv_vn_kv: float, mv_vm_pu: float) -> pp.pandapowerNet:
    """Empty net with the MV bus (0), LV busbar (1), ext_grid and transformer."""
    net = pp.create_empty_network()
    _check_trafo_type(net, trafo_type)
    pp.create_bus(net, mv_vn_kv, name="MV", index=0, feeder=-1)
    pp.create_bus(net, lv_vn_kv, name="LV busbar", index=1, feeder=0)
    pp.create_ext_grid(net, 0, vm_pu=mv_vm_pu, name="MV supply")
    pp.create_transformer(net, 0, 1, trafo_type, name="trafo", tap_pos=0, index=0)
    net.bus["feeder"] = net.bus["feeder"].astype(np.int64)
    return net


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], size: int) -> np.ndarray:
    lo, hi = bounds
    return rng.uniform(lo, hi, size)


def n_feeders_for(n_homes: int, params: LvGridParameters = LvGridParameters()) -> int:
    """Number of LV feeders for a substation with ``n_homes`` homes [-].

    ``round(n_homes / homes_per_feeder_target)`` clipped to
    ``[feeders_min, feeders_max]``, but never so many that a feeder would get
    fewer than ``homes_per_feeder_min`` homes (small grids get fewer feeders).
    """
    if n_homes < 0:
        raise ValueError(f"n_homes must be >= 0 (got {n_homes})")
    n = int(np.clip(round(n_homes / params.homes_per_feeder_target), params.feeders_min, params.feeders_max))
    return max(1, min(n, n_homes // params.homes_per_feeder_min))


def _split_homes(n_homes: int, n_feeders: int, rng: np.random.Generator, params: LvGridParameters) -> np.ndarray:
    """Homes per feeder: a floor of ``homes_per_feeder_min`` plus a random share."""
    floor = min(params.homes_per_feeder_min, n_homes // n_feeders)
    rest = n_homes - floor * n_feeders
    share = rng.dirichlet(np.full(n_feeders, params.feeder_spread))
    return floor + rng.multinomial(rest, share)


def n_substations(n_homes: int, params: LvGridParameters = LvGridParameters()) -> int:
    """Number of MV/LV substations for a wijk with ``n_homes`` homes [-].

    The count nearest ``n_homes / homes_per_trafo_target`` that keeps every
    substation within ``[homes_per_trafo_min, homes_per_trafo_max]`` when an
    even split can; otherwise (e.g. 201-299 homes) the nearest count.
    """
    if n_homes < 0:
        raise ValueError(f"n_homes must be >= 0 (got {n_homes})")
    if n_homes == 0:
        return 0
    k = max(1, round(n_homes / params.homes_per_trafo_target))
    k_lo = math.ceil(n_homes / params.homes_per_trafo_max)
    k_hi = n_homes // params.homes_per_trafo_min
    if k_lo <= k_hi:
        k = min(max(k, k_lo), k_hi)
    return k


def local_xy_m(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular projection around (lon0, lat0) [m]; < 0.1 % error over a city."""
    x = np.radians(np.asarray(lon, float) - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    y = np.radians(np.asarray(lat, float) - lat0) * EARTH_RADIUS_M
    return x, y


def _local_lonlat(x_m: np.ndarray, y_m: np.ndarray, lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    lon = lon0 + np.degrees(np.asarray(x_m) / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
    lat = lat0 + np.degrees(np.asarray(y_m) / EARTH_RADIUS_M)
    return lon, lat


def _uniform_disc(rng: np.random.Generator, radius_m: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    r = radius_m * np.sqrt(rng.uniform(0.0, 1.0, size))
    phi = rng.uniform(0.0, 2.0 * np.pi, size)
    return r * np.cos(phi), r * np.sin(phi)


def home_connection_rows(home_ids: list[str], bus, loads, sgens, feeder, position) -> dict[str, list[Any]]:
    """Rows of the ``connections`` table for homes: each home's household load, then each home's rooftop PV.

    A home's PV is the connection ``<home id>/pv`` on the same bus (`energy_sim.grid.simulate.CitySolver`
    pairs them by this id). `bus`, `loads`, `sgens` (element indices), `feeder` and `position` are
    per home, in the order of `home_ids`.
    """
    n_homes = len(home_ids)
    twice = lambda values: np.concatenate([values, values]).tolist()  # noqa: E731
    return {
        "connection_id": home_ids + [f"{h}/pv" for h in home_ids],
        "kind": [str(ConnectionKind.household)] * n_homes + [str(ConnectionKind.rooftop_pv)] * n_homes,
        "bus": twice(bus),
        "element": ["load"] * n_homes + ["sgen"] * n_homes,
        "element_index": np.concatenate([loads, sgens]).tolist(),
        "feeder": twice(feeder),
        "position": twice(position),
    }


def connections_frame(rows: dict[str, Sequence[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("bus", "element_index", "feeder"):
        if col in frame:
            frame[col] = frame[col].astype(np.int64)
    return frame


def add_element(net: pp.pandapowerNet, kind: ConnectionKind, bus: int, name: str, p_mw: float) -> tuple[str, int]:
    element = element_of_kind(kind)
    sn_mva = p_mw if p_mw > 0 else np.nan
    if element == "sgen":
        idx = pp.create_sgen(net, bus, p_mw=0.0, sn_mva=sn_mva, name=name)
    else:
        idx = pp.create_load(net, bus, p_mw=0.0, sn_mva=sn_mva, name=name)
    return element, int(idx)


def _add_extra_connections(
    net: pp.pandapowerNet, proto: dict[str, pd.DataFrame], prefix: str, conns: Sequence[LvConnection],
    joint: np.ndarray, feeder: np.ndarray, length_m: np.ndarray, params: LvGridParameters,
    rows: dict[str, list[Any]], position: np.ndarray,
) -> None:
    """Give each extra LV connection its bus, service cable and element, table by table.

    The same rows, indices and order as one ``pp.create_bus`` /
    ``pp.create_line`` / :func:`add_element` per connection (each ~10 ms;
    ~700 public chargers made them 10 s of the Hengelo build): buses, service
    cables and loads (batteries too: loads with signed power) are written by
    broadcasting prototype rows; generators (rare on LV) still go through
    :func:`add_element`.
    tests/grid/test_build.py compares with pandapower's create functions.
    """
    n = len(conns)
    kinds = [ConnectionKind(c.kind) for c in conns]
    elements = [element_of_kind(k) for k in kinds]
    bus = int(net.bus.index.max()) + 1 + np.arange(n, dtype=np.int64)
    line = int(net.line.index.max()) + 1 + np.arange(n, dtype=np.int64)
    names = [f"{prefix}{c.connection_id}" for c in conns]
    net.bus = pd.concat([net.bus, _broadcast(proto["bus"], bus, name=names, vn_kv=params.lv_vn_kv, feeder=feeder)])
    net.line = pd.concat([net.line, _broadcast(
        proto["service_line"], line, name=[f"{name} service" for name in names], from_bus=joint, to_bus=bus,
        length_km=length_m / 1e3, feeder=feeder)])
    index = np.full(n, -1, np.int64)
    loads = [k for k, e in enumerate(elements) if e == "load"]
    if loads:
        start = int(net.load.index.max()) + 1 if len(net.load) else 0
        index[loads] = start + np.arange(len(loads))
        net.load = pd.concat([net.load, _broadcast(
            proto["single_load"], index[loads], name=[conns[k].connection_id for k in loads], bus=bus[loads],
            sn_mva=[conns[k].p_kw / 1e3 if conns[k].p_kw > 0 else np.nan for k in loads])])
    # generators are rare here; pandapower's own create functions fill their optional
    # columns depending on what the table already holds, so they stay one by one
    for k in (k for k, e in enumerate(elements) if e != "load"):
        index[k] = add_element(net, kinds[k], int(bus[k]), conns[k].connection_id, conns[k].p_kw / 1e3)[1]
    for conn, kind, element, k in zip(conns, kinds, elements, range(n)):
        for col, value in zip(
            ("connection_id", "kind", "bus", "element", "element_index", "feeder", "position"),
            (conn.connection_id, str(kind), int(bus[k]), element, int(index[k]), int(feeder[k]), int(position[k])),
        ):
            rows[col].append(value)


# --------------------------------------------------------------------------
# LV
# --------------------------------------------------------------------------


def build_lv_grid(
    n_homes: int,
    *,
    rng: np.random.Generator,
    params: LvGridParameters = LvGridParameters(),
    name: str = "",
    extra_connections: Sequence[LvConnection] = (),
) -> LvGrid:
    """Build the LV grid of one MV/LV substation as a standalone pandapower net.

    Layout: ext_grid on a 10 kV bus -> transformer -> LV busbar -> radial
    feeders. Each feeder is a chain of cable sections between consecutive
    house-connection points (joints); each home hangs on its joint through a
    service cable and has its own bus with one ``load`` (household) and one
    ``sgen`` (rooftop PV), both ``p_mw = 0``. Extra connections get their own
    bus on a service cable at a random joint.

    Parameters
    ----------
    n_homes : int
        Homes on this substation [-], >= 1.
    rng : numpy.random.Generator
        Source of all randomness (split over feeders, section lengths,
        positions of extra connections).
    params : LvGridParameters
        Sizing rules.
    name : str
        Substation id; prefixes bus, element and connection ids.
    extra_connections : sequence of LvConnection
        Public chargers, neighbourhood batteries, etc.

    Returns
    -------
    LvGrid
    """
    if n_homes < 1:
        raise ValueError(f"build_lv_grid needs n_homes >= 1 (got {n_homes} for {name!r})")
    n_feeders = n_feeders_for(n_homes, params)
    homes_per_feeder = _split_homes(n_homes, n_feeders, rng, params)
    # All random draws happen in a fixed order, so the net is a pure function
    # of (n_homes, params, name, extra_connections, rng state).
    feeder = np.repeat(np.arange(1, n_feeders + 1), homes_per_feeder)
    starts = np.concatenate(([0], np.cumsum(homes_per_feeder)[:-1]))
    position = np.arange(n_homes) - np.repeat(starts, homes_per_feeder)
    j = params.spacing_jitter_frac
    section_m = params.house_spacing_m * rng.uniform(1.0 - j, 1.0 + j, n_homes)
    first = position == 0
    section_m[first] = _uniform(rng, params.first_section_m, int(first.sum()))
    service_m = _uniform(rng, params.service_cable_m, n_homes)

    prefix = f"{name}/" if name else ""
    trafo_type = params.small_trafo_type if n_homes <= params.small_trafo_max_homes else params.trafo_type
    net = copy_net(_substation_template(trafo_type, params.mv_vn_kv, params.lv_vn_kv, params.mv_vm_pu))
    net.name = name
    mv_bus, lv_bus, trafo = 0, 1, 0
    net.bus.loc[[mv_bus, lv_bus], "name"] = [f"{prefix}MV", f"{prefix}LV busbar"]
    net.ext_grid.loc[:, "name"] = f"{prefix}MV supply"
    net.trafo.loc[trafo, "name"] = f"{prefix}trafo"

    ids = [f"F{f}-{p:03d}" for f, p in zip(feeder.tolist(), position.tolist())]
    home_ids = [f"{prefix}home{k:04d}" for k in range(n_homes)]
    # Bulk tables are written straight from arrays by broadcasting a prototype
    # row that pandapower's own create_* functions made (see _prototypes):
    # each pandapower create_* call costs ~10-30 ms, which made the ten
    # Hengelo wijken (210 grids) take ~25 s; tests/grid/test_build.py checks
    # the tables equal those pandapower's create functions make.
    proto = _prototypes(params.feeder_cable_type, params.service_cable_type)
    first_bus = int(net.bus.index.max()) + 1
    joints = np.arange(first_bus, first_bus + n_homes, dtype=np.int64)
    homes = joints + n_homes
    net.bus = pd.concat(
        [
            net.bus,
            _broadcast(
                proto["bus"], np.concatenate([joints, homes]),
                name=[f"{prefix}{i} joint" for i in ids] + [f"{prefix}{i} home" for i in ids],
                vn_kv=params.lv_vn_kv, feeder=np.concatenate([feeder, feeder]),
            ),
        ]
    )
    upstream = np.where(first, lv_bus, np.roll(joints, 1))
    net.line = pd.concat(
        [
            net.line,
            _broadcast(
                proto["feeder_line"], np.arange(n_homes),
                name=[f"{prefix}{i} section" for i in ids], from_bus=upstream, to_bus=joints,
                length_km=section_m / 1e3, feeder=feeder,
            ),
            _broadcast(
                proto["service_line"], np.arange(n_homes, 2 * n_homes),
                name=[f"{prefix}{i} service" for i in ids], from_bus=joints, to_bus=homes,
                length_km=service_m / 1e3, feeder=feeder,
            ),
        ]
    )
    loads = np.arange(n_homes, dtype=np.int64)
    sgens = np.arange(n_homes, dtype=np.int64)
    net.load = pd.concat(
        [net.load, _broadcast(proto["load"], loads, name=home_ids, bus=homes)]
    )
    net.sgen = pd.concat(
        [net.sgen, _broadcast(proto["sgen"], sgens, name=[f"{h} pv" for h in home_ids], bus=homes)]
    )

    rows = home_connection_rows(home_ids, homes, loads, sgens, feeder, position)

    if extra_connections:
        at = rng.integers(0, n_homes, len(extra_connections))
        extra_m = _uniform(rng, params.service_cable_m, len(extra_connections))
        _add_extra_connections(net, proto, prefix, extra_connections, joints[at], feeder[at], extra_m, params,
                               rows, position[at])

    for table in (net.bus, net.line):
        table["feeder"] = table["feeder"].astype(np.int64)
    connections = connections_frame(rows)
    connections["position"] = connections["position"].astype(np.int64)
    if connections["connection_id"].duplicated().any():
        dup = connections.loc[connections["connection_id"].duplicated(), "connection_id"].tolist()
        raise ValueError(f"duplicate connection ids in LV grid {name!r}: {dup[:5]}; ids must be unique")
    return LvGrid(
        name=name,
        net=net,
        connections=connections,
        mv_bus=mv_bus,
        lv_bus=lv_bus,
        trafo=trafo,
        n_homes=int(n_homes),
        n_feeders=int(n_feeders),
        sn_mva=float(net.trafo.at[trafo, "sn_mva"]),
    )


def build_wijk_grids(
    n_homes: int,
    *,
    rng: np.random.Generator,
    params: LvGridParameters = LvGridParameters(),
    name: str = "",
    extra_connections: Sequence[LvConnection] = (),
) -> list[LvGrid]:
    """Split a wijk's homes over MV/LV substations and build each LV grid.

    Homes are split as evenly as possible over :func:`n_substations` grids;
    extra connections go to a random grid each. Grid ``i`` is named
    ``f"{name}/MSR{i + 1:02d}"`` (MSR: middenspanningsruimte, the Dutch
    MV/LV substation) and gets its own child generator (``rng.spawn``), so a
    grid does not change when another one does.

    Parameters
    ----------
    n_homes : int
        Dwellings in the wijk [-].
    rng : numpy.random.Generator
        Source of randomness.
    params : LvGridParameters
        Sizing rules.
    name : str
        Wijk code or name, prefix of the substation ids.
    extra_connections : sequence of LvConnection
        Extra LV connections in this wijk.

    Returns
    -------
    list of LvGrid
        Empty when ``n_homes == 0`` and there are no extra connections.
    """
    k = n_substations(n_homes, params)
    if k == 0:
        if extra_connections:
            raise ValueError(
                f"wijk {name!r} has {len(extra_connections)} LV connections but no dwellings; "
                f"attach them as MV connections or give the wijk dwellings"
            )
        return []
    homes = np.full(k, n_homes // k)
    homes[: n_homes % k] += 1
    owner = rng.integers(0, k, len(extra_connections))
    children = rng.spawn(k)
    return [
        build_lv_grid(
            int(homes[i]),
            rng=children[i],
            params=params,
            name=f"{name}/MSR{i + 1:02d}",
            extra_connections=[c for c, o in zip(extra_connections, owner.tolist()) if o == i],
        )
        for i in range(k)
    ]


# --------------------------------------------------------------------------
# MV
# --------------------------------------------------------------------------


def place_substations(
    wijk: WijkSpec, n: int, *, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``n`` substations spread uniformly over a wijk's disc.

    The disc has the wijk's area, ``dwellings / dwellings_per_ha`` hectares,
    and is centred on the wijk's coordinates.

    Returns
    -------
    lon, lat : numpy.ndarray
        [deg, WGS84]
    """
    area_m2 = max(wijk.dwellings, 1) / wijk.dwellings_per_ha * 1e4
    radius_m = math.sqrt(area_m2 / math.pi)
    dx, dy = _uniform_disc(rng, radius_m, n)
    return _local_lonlat(dx, dy, wijk.lon, wijk.lat)


def _nearest_neighbour_order(x: np.ndarray, y: np.ndarray, x0: float, y0: float) -> list[int]:
    """Greedy tour from (x0, y0) through all points (ties by index)."""
    left = list(range(len(x)))
    order = []
    cx, cy = x0, y0
    while left:
        d = np.hypot(x[left] - cx, y[left] - cy)
        i = left.pop(int(np.argmin(d)))
        order.append(i)
        cx, cy = x[i], y[i]
    return order


def _ordinals(labels: Sequence[int]) -> list[int]:
    """0, 1, 2, ... within each run of equal labels (the sections of one ring)."""
    out, seen = [], {}
    for label in labels:
        out.append(seen.get(label, 0))
        seen[label] = out[-1] + 1
    return out


def build_mv_grid(
    wijk_substations: Sequence[SubstationSite],
    *,
    rng: np.random.Generator,
    params: MvGridParameters = MvGridParameters(),
    mv_connections: Sequence[MvConnection] = (),
    stations: Sequence[StationSite] | None = None,
) -> MvGrid:
    """Build the 10 kV network connecting all MV/LV substations to the station(s).

    Each station is a 110 kV ext_grid feeding ``station_trafos`` parallel
    110/10 kV transformers onto a 10 kV busbar. The ext_grid sits on the
    110 kV side (not on the 10 kV busbar) so that station transformer loading
    -- where TenneT/Enexis report scarcity in Hengelo -- is a result of the
    load flow. Substations go to their nearest station, are sorted by angle
    around it and cut into open rings of at most ``substations_per_ring``;
    each ring runs station -> nearest-neighbour tour -> station, with a
    normally-open load-break switch at the line in the middle, so the network
    is radial in operation. Cable lengths are straight-line distance times
    ``route_factor``. Each substation gets one ``load`` (``p_mw = 0``) for the
    LV aggregate.

    MV connections rated ``>= dedicated_feeder_min_mw`` get a dedicated feeder
    of parallel cables from the nearest station busbar; smaller ones tee off
    the nearest substation bus.

    Parameters
    ----------
    wijk_substations : sequence of SubstationSite
        All MV/LV substations.
    rng : numpy.random.Generator
        Places MV connections that have no coordinates.
    params : MvGridParameters
        Sizing rules.
    mv_connections : sequence of MvConnection
        Solar fields, turbines, heat plants, batteries, charging hubs.
    stations : sequence of StationSite, optional
        110/10 kV stations. Default: one station at the mean position of the
        substations (a placeholder until real station sites are given).

    Returns
    -------
    MvGrid
    """
    if not wijk_substations and not mv_connections:
        raise ValueError("build_mv_grid needs at least one substation or MV connection")
    ids = [s.substation_id for s in wijk_substations]
    if len(set(ids)) != len(ids):
        raise ValueError("substation ids must be unique")
    sub_lon = np.array([s.lon for s in wijk_substations], float)
    sub_lat = np.array([s.lat for s in wijk_substations], float)
    if stations is None:
        if not wijk_substations:
            raise ValueError("give stations when there are no substations")
        stations = [StationSite("station", float(sub_lon.mean()), float(sub_lat.mean()))]
    if not stations:
        raise ValueError("stations must not be empty")
    st_lon = np.array([s.lon for s in stations], float)
    st_lat = np.array([s.lat for s in stations], float)
    lon0 = float(np.mean(np.concatenate([sub_lon, st_lon])))
    lat0 = float(np.mean(np.concatenate([sub_lat, st_lat])))
    sx, sy = local_xy_m(sub_lon, sub_lat, lon0, lat0)
    tx, ty = local_xy_m(st_lon, st_lat, lon0, lat0)

    net = _empty_net("MV")
    cable = _std_line(net, params.cable_type)
    _check_trafo_type(net, params.station_trafo_type)

    # Stations.
    n_st = len(stations)
    hv_buses = pp.create_buses(net, n_st, params.hv_vn_kv, name=[f"{s.name} 110 kV" for s in stations])
    mv_busbars = pp.create_buses(net, n_st, params.vn_kv, name=[f"{s.name} 10 kV" for s in stations])
    ext_grids, trafos = [], []
    for s, hv, mv in zip(stations, hv_buses.tolist(), mv_busbars.tolist()):
        ext_grids.append(int(pp.create_ext_grid(net, hv, vm_pu=params.hv_vm_pu, name=f"{s.name} TenneT")))
        trafos.append(
            int(
                pp.create_transformer(
                    net, hv, mv, params.station_trafo_type, name=f"{s.name} 110/10 kV",
                    tap_pos=params.station_tap_pos, parallel=params.station_trafos,
                )
            )
        )
    station_table = pd.DataFrame(
        {
            "name": [s.name for s in stations],
            "hv_bus": hv_buses.astype(np.int64),
            "mv_bus": mv_busbars.astype(np.int64),
            "trafo": np.array(trafos, np.int64),
            "ext_grid": np.array(ext_grids, np.int64),
            "lon": st_lon,
            "lat": st_lat,
        }
    )

    # Substations and rings.
    n_sub = len(wijk_substations)
    sub_buses = pp.create_buses(net, n_sub, params.vn_kv, name=ids) if n_sub else np.array([], np.int64)
    d_st = np.hypot(sx[:, None] - tx[None, :], sy[:, None] - ty[None, :])
    home_station = np.argmin(d_st, axis=1) if n_sub else np.array([], np.int64)
    ring_of = np.full(n_sub, -1, np.int64)
    from_b, to_b, length_m, ring_line = [], [], [], []
    open_at: list[tuple[int, int]] = []  # (bus, position in line list)
    ring = 0
    for st in range(n_st):
        members = np.flatnonzero(home_station == st)
        if members.size == 0:
            continue
        angle = np.arctan2(sy[members] - ty[st], sx[members] - tx[st])
        dist = d_st[members, st]
        members = members[np.lexsort((members, dist, angle))]
        n_rings = math.ceil(members.size / params.substations_per_ring)
        for group in np.array_split(members, n_rings):
            tour = group[_nearest_neighbour_order(sx[group], sy[group], tx[st], ty[st])]
            ring_of[tour] = ring
            path_b = [int(mv_busbars[st])] + sub_buses[tour].tolist() + [int(mv_busbars[st])]
            path_x = np.concatenate(([tx[st]], sx[tour], [tx[st]]))
            path_y = np.concatenate(([ty[st]], sy[tour], [ty[st]]))
            seg_m = np.hypot(np.diff(path_x), np.diff(path_y)) * params.route_factor
            seg_m = np.maximum(seg_m, params.min_cable_m)
            mid = math.ceil(len(tour) / 2)  # line index of the open point
            open_at.append((path_b[mid], len(from_b) + mid))
            from_b += path_b[:-1]
            to_b += path_b[1:]
            length_m += seg_m.tolist()
            ring_line += [ring] * len(seg_m)
            ring += 1
    open_switches = np.array([], np.int64)
    if from_b:
        lines = pp.create_lines(
            net, from_b, to_b, np.array(length_m) / 1e3, params.cable_type,
            # unique names (results label cables by name): section 01 leaves the station
            name=[f"ring{r:02d} section {k + 1:02d}" for r, k in zip(ring_line, _ordinals(ring_line))],
            ring=ring_line,
        )
        open_switches = np.asarray(
            pp.create_switches(
                net, [b for b, _ in open_at], [int(lines[k]) for _, k in open_at], "l",
                closed=False, type="LBS", name=[f"ring{r:02d} open point" for r in range(ring)],
            ),
            np.int64,
        )
    sub_loads = (
        pp.create_loads(net, sub_buses, p_mw=0.0, name=ids, sn_mva=[s.sn_mva for s in wijk_substations])
        if n_sub
        else np.array([], np.int64)
    )
    substations = pd.DataFrame(
        {
            "substation_id": ids,
            "wijk_code": [s.wijk_code for s in wijk_substations],
            "station": [stations[i].name for i in home_station.tolist()],
            "ring": ring_of,
            "bus": np.asarray(sub_buses, np.int64),
            "load": np.asarray(sub_loads, np.int64),
            "x_m": sx,
            "y_m": sy,
        }
    )

    # MV connections.
    rows: dict[str, list[Any]] = {
        c: []
        for c in CONNECTION_COLUMNS
        + ["wijk_code", "station", "line", "parallel", "dedicated", "lon", "lat"]
    }
    if mv_connections:
        wijk_centre = substations.groupby("wijk_code")[["x_m", "y_m"]].mean()
        cable_mva = math.sqrt(3) * params.vn_kv * float(cable["max_i_ka"]) * params.cable_utilisation
        jx, jy = _uniform_disc(rng, params.connection_jitter_m, len(mv_connections))
        for conn, dx, dy in zip(mv_connections, jx.tolist(), jy.tolist()):
            kind = ConnectionKind(conn.kind)
            if conn.lon is not None and conn.lat is not None:
                cx, cy = (float(v) for v in local_xy_m(np.array([conn.lon]), np.array([conn.lat]), lon0, lat0))
            elif conn.wijk_code in wijk_centre.index:
                cx = float(wijk_centre.at[conn.wijk_code, "x_m"]) + dx
                cy = float(wijk_centre.at[conn.wijk_code, "y_m"]) + dy
            else:
                raise ValueError(
                    f"MV connection {conn.connection_id!r} has no lon/lat and its wijk "
                    f"{conn.wijk_code!r} has no substations to place it by; give lon and lat"
                )
            st = int(np.argmin(np.hypot(tx - cx, ty - cy)))
            dedicated = conn.p_mw >= params.dedicated_feeder_min_mw or n_sub == 0
            if dedicated:
                parallel = max(1, math.ceil(conn.p_mw / cable_mva))
                up_bus, ux, uy = int(mv_busbars[st]), tx[st], ty[st]
            else:
                parallel = 1
                k = int(np.argmin(np.hypot(sx - cx, sy - cy)))
                up_bus, ux, uy = int(sub_buses[k]), sx[k], sy[k]
                st = int(home_station[k])
            bus = int(pp.create_bus(net, params.vn_kv, name=conn.connection_id))
            seg = max(math.hypot(cx - ux, cy - uy) * params.route_factor, params.min_cable_m)
            line = int(
                pp.create_line(
                    net, up_bus, bus, seg / 1e3, params.cable_type, parallel=parallel,
                    name=f"{conn.connection_id} feeder", ring=-1,
                )
            )
            element, idx = add_element(net, kind, bus, conn.connection_id, conn.p_mw)
            lon, lat = _local_lonlat(np.array([cx]), np.array([cy]), lon0, lat0)
            for col, value in zip(
                list(rows),
                (conn.connection_id, str(kind), bus, element, idx, -1, conn.wijk_code,
                 stations[st].name, line, parallel, dedicated, float(lon[0]), float(lat[0])),
            ):
                rows[col].append(value)
    net.line["ring"] = net.line["ring"].astype(np.int64)
    connections = connections_frame(rows)
    for col in ("line", "parallel"):
        connections[col] = connections[col].astype(np.int64)
    connections["dedicated"] = connections["dedicated"].astype(bool)
    if connections["connection_id"].duplicated().any():
        raise ValueError("MV connection ids must be unique")
    return MvGrid(
        net=net,
        substations=substations,
        connections=connections,
        stations=station_table,
        open_switches=open_switches,
    )


# --------------------------------------------------------------------------
# City
# --------------------------------------------------------------------------


def build_city_grid(
    wijken: Sequence[WijkSpec],
    *,
    rng: np.random.Generator,
    lv_params: LvGridParameters = LvGridParameters(),
    mv_params: MvGridParameters = MvGridParameters(),
    lv_connections: Sequence[LvConnection] = (),
    mv_connections: Sequence[MvConnection] = (),
    stations: Sequence[StationSite] | None = None,
    given: Mapping[str, Any] | None = None,
) -> CityGrid:
    """Build all LV grids of every wijk and the 10 kV network above them.

    Wijk ``i`` uses child generator ``i`` of ``rng.spawn(len(wijken) + 1)``
    (the last one is for the MV net), so the grids of one wijk depend only on
    the seed, the wijk's own inputs and its place in the list.

    Parameters
    ----------
    wijken : sequence of WijkSpec
        Wijken with dwellings and centre coordinates.
    rng : numpy.random.Generator
        Source of randomness.
    lv_params, mv_params : LvGridParameters, MvGridParameters
        Sizing rules.
    lv_connections : sequence of LvConnection
        Extra LV connections; ``wijk_code`` picks the wijk.
    mv_connections : sequence of MvConnection
        MV connections.
    stations : sequence of StationSite, optional
        110/10 kV stations (see :func:`build_mv_grid`).
    given : mapping of str to energy_sim.grid.given.GivenNet, optional
        Wijken whose LV grids are given (a pandapower net or SimBench
        grid): their dwellings and LV connections go onto the given net's
        connection points (`energy_sim.grid.given.build_given_wijk_grids`);
        substations stand where the given net puts them when it has
        plausible positions (`energy_sim.grid.given.given_positions`), else
        where generated ones would.

    Returns
    -------
    CityGrid
    """
    codes = [w.code for w in wijken]
    if len(set(codes)) != len(codes):
        raise ValueError(f"wijk codes must be unique (got {codes})")
    unknown = sorted({c.wijk_code for c in lv_connections} - set(codes))
    unknown += sorted({c.wijk_code for c in mv_connections if c.lon is None} - set(codes))
    if unknown:
        raise ValueError(f"connections refer to unknown wijk codes {unknown}; known: {codes}")
    children = rng.spawn(len(wijken) + 1)
    lv_grids: dict[str, list[LvGrid]] = {}
    sites: list[SubstationSite] = []
    given = given or {}
    for wijk, child in zip(wijken, children[:-1]):
        extra = [c for c in lv_connections if c.wijk_code == wijk.code]
        if wijk.code in given:
            from energy_sim.grid.given import build_given_wijk_grids, given_positions

            grids = build_given_wijk_grids(given[wijk.code], wijk.dwellings, rng=child, name=wijk.code,
                                           extra_connections=extra)
        else:
            grids = build_wijk_grids(wijk.dwellings, rng=child, params=lv_params, name=wijk.code,
                                     extra_connections=extra)
        lv_grids[wijk.code] = grids
        lon, lat = place_substations(wijk, len(grids), rng=child)
        if wijk.code in given:
            lon, lat = given_positions(given[wijk.code], wijk.lon, wijk.lat) or (lon, lat)
        sites += [
            SubstationSite(g.name, wijk.code, float(x), float(y), g.sn_mva)
            for g, x, y in zip(grids, lon, lat)
        ]
    mv = build_mv_grid(
        sites, rng=children[-1], params=mv_params, mv_connections=mv_connections, stations=stations
    )
    return CityGrid(lv_grids=lv_grids, mv=mv)

"""A given net for the whole city: its MV part as the `MvGrid`, its LV grids per wijk.

The top-level ``grid.source: pandapower_json | simbench`` names one net with
the MV network and the LV grids under it. The LV grids are split off as for
a wijk's given grid (`energy_sim.grid.given.split_lv_grids`); what remains
at 1 kV and above is the MV network, kept as given (lines, switches,
transformers, shunts and the ext_grids with their voltage set points):

* stations: one per ``ext_grid``; its busbar is the LV side of every
  in-service transformer fed from the ext_grid's HV bus (parallel HV/MV
  transformers), with the busbar sections joined to them by closed bus-bus
  switches (couplers, sectionalisers); without such a transformer the
  ext_grid's bus (and its sections) is the busbar;
* substations: one per MV/LV transformer, with a ``load`` at its HV bus that
  carries its LV grid's aggregate (as in generated grids);
* rings: the parts of the MV network between station busbars (with every
  switch closed); the open line switches are the normally-open points;
* the net's own MV loads and generators are dropped (the scenario's MV
  connections take their place): solar fields, turbines, heat plants,
  batteries and charging hubs attach to the MV bus nearest their wijk's
  centre when the net has plausible longitude/latitude, else to the first
  station's busbar.

LV grids belong to the wijk whose code is in ``net.bus.zone`` of their
transformer's LV bus; with one simulated wijk, all LV grids are its own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from energy_sim.grid.build import (
    CONNECTION_COLUMNS,
    CityGrid,
    ConnectionKind,
    LvConnection,
    MvConnection,
    MvGrid,
    WijkSpec,
    add_element,
    connections_frame,
    copy_net,
    local_xy_m,
    template_net,
)
from energy_sim.grid.given import (
    LV_MAX_KV,
    MAX_POSITION_OFFSET_KM,
    REPLACED_TABLES,
    GivenGridError,
    GivenNet,
    build_given_wijk_grids,
    check_parameters,
    closed_bus_group,
    kept_columns,
    load_cached,
    lonlat,
    read_pandapower_json,
    read_simbench,
    split_lv_grids,
    table_of,
    unique_names,
    unsupported_elements,
)

__all__ = ["GivenCity", "build_given_city_grid", "describe", "load_given_city", "split_city_net", "zone_problems"]


@dataclass(frozen=True, eq=False)
class GivenCity:
    """A whole-city net split into LV grids and its MV part (see module docstring).

    Attributes
    ----------
    source : str
        File name or SimBench code, for messages.
    lv : GivenNet
        All LV grids.
    zone : list of str
        ``net.bus.zone`` of each LV grid's transformer LV bus ("" if none).
    mv_net : pandapower.pandapowerNet
        The MV part without loads or generators.
    stations : pandas.DataFrame
        ``name``, ``hv_bus``, ``mv_bus`` (the first busbar section), ``trafo`` (the first in-service HV/MV
        transformer, -1: none), ``ext_grid``, ``lon``, ``lat``, ``busbar`` (tuple of the busbar's buses),
        ``hv_side`` (tuple of the HV buses joined to the ext_grid's bus by closed bus-bus switches).
    dropped : dict of str to (int, float)
        MV elements replaced by the scenario's: count and summed ``p_mw`` [MW].
    """

    source: str
    lv: GivenNet
    zone: list[str]
    mv_net: Any
    stations: pd.DataFrame
    dropped: dict[str, tuple[int, float]]

    def parts_of(self, wijk_code: str, n_wijk: int) -> GivenNet:
        """The LV grids of one wijk: those in its zone, or all when it is the only wijk simulated."""
        mine = [p for p, z in zip(self.lv.parts, self.zone) if n_wijk == 1 or z == wijk_code]
        return GivenNet(self.source, mine, {})  # what was dropped is counted for the whole net (`describe`)


def split_city_net(net, source: str) -> GivenCity:
    """Split a whole-city net into its LV grids and MV part; raises `GivenGridError`."""
    import pandapower as pp

    lv = split_lv_grids(net, source)
    ext = table_of(net, "ext_grid")
    if ext.empty or not ext.in_service.astype(bool).any():
        raise GivenGridError("no_ext_grid", f"{source} has no ext_grid in service; a whole-city net needs one per "
                             f"HV/MV station", 0)
    bus = net.bus
    mv_buses = set(bus.index[(bus.vn_kv >= LV_MAX_KV) & bus.in_service.astype(bool)])
    out = copy_net(template_net())
    out.name = f"MV of {source}"
    out.f_hz = net.f_hz
    out.bus = bus.loc[sorted(mv_buses), kept_columns(bus, "bus")].copy()
    lines = table_of(net, "line")
    if not lines.empty:
        out.line = lines.loc[lines.from_bus.isin(mv_buses) & lines.to_bus.isin(mv_buses),
                             kept_columns(lines, "line")].copy()
    trafo = net.trafo
    hv_mv = trafo[trafo.hv_bus.isin(mv_buses) & trafo.lv_bus.isin(mv_buses)]
    out.trafo = hv_mv[kept_columns(trafo, "trafo")].copy()
    switches = table_of(net, "switch")
    if not switches.empty:
        et = switches.et
        sel = switches.bus.isin(mv_buses) & (
            ((et == "b") & switches.element.isin(mv_buses)) | ((et == "l") & switches.element.isin(out.line.index))
            | ((et == "t") & switches.element.isin(out.trafo.index)))
        out.switch = switches.loc[sel, kept_columns(switches, "switch")].copy()
    shunts = table_of(net, "shunt")
    if not shunts.empty:
        out.shunt = shunts.loc[shunts.bus.isin(mv_buses), kept_columns(shunts, "shunt")].copy()
    ext = ext[ext.in_service.astype(bool) & ext.bus.isin(mv_buses)]
    out.ext_grid = ext[kept_columns(ext, "ext_grid")].copy()
    unsupported = unsupported_elements(net, mv_buses)
    if unsupported:
        raise GivenGridError("unsupported_elements", f"{source} has {', '.join(unsupported)} in its MV network; the "
                             f"MV part of a whole-city net may hold lines, two-winding transformers, switches, "
                             f"shunts, ext_grids, loads and generators", ", ".join(unsupported))
    check_parameters(out, f"{source}, MV part")
    if "line" in out and len(out.line):
        out.line["ring"] = -1
    dropped = {}
    for name in REPLACED_TABLES:
        table = table_of(net, name)
        if not table.empty and "bus" in table.columns:
            mine = table.bus.isin(mv_buses)
            if mine.any():
                p = float(table.loc[mine, "p_mw"].fillna(0).sum()) if "p_mw" in table.columns else 0.0
                dropped[name] = (int(mine.sum()), p)

    rows = []
    taken: set[int] = set()
    for k, (e, row) in enumerate(ext.iterrows()):
        hv_side = closed_bus_group(out, {int(row.bus)})
        feeding = hv_mv[hv_mv.in_service.astype(bool) & hv_mv.hv_bus.isin(hv_side)]
        busbar = closed_bus_group(out, set(feeding.lv_bus.astype(int)) if len(feeding) else {int(row.bus)})
        if busbar & taken:
            continue  # a second ext_grid of a station already found (e.g. on a coupled HV busbar)
        taken |= busbar
        mv_bus = int(feeding.lv_bus.iloc[0]) if len(feeding) else int(row.bus)
        name = str(row["name"]).strip() if isinstance(row["name"], str) and row["name"].strip() else f"station{k + 1}"
        lon, lat = lonlat(net, [mv_bus, int(row.bus)])
        rows.append({"name": name, "hv_bus": int(row.bus), "mv_bus": mv_bus,
                     "trafo": int(feeding.index[0]) if len(feeding) else -1, "ext_grid": int(e),
                     "lon": lon if lon is not None else np.nan, "lat": lat if lat is not None else np.nan,
                     "busbar": tuple(sorted(busbar)), "hv_side": tuple(sorted(hv_side))})
    stations = pd.DataFrame(rows)
    stations["name"] = unique_names(stations.name.tolist())
    zone_col = bus.zone if "zone" in bus.columns else pd.Series("", index=bus.index)
    zone = [str(zone_col.at[p.lv_bus]) if isinstance(zone_col.at[p.lv_bus], str) else "" for p in lv.parts]
    unsupplied = set(pp.topology.unsupplied_buses(out)) if len(out.bus) else set()
    cut = [p.name for p in lv.parts if p.mv_bus in unsupplied]
    if cut:
        raise GivenGridError("unsupplied_substations", f"{source}: {len(cut)} MV/LV transformer(s) are not supplied "
                             f"from any ext_grid in the MV network as given (e.g. {cut[0]!r})", len(cut))
    return GivenCity(source, lv, zone, out, stations, dropped)


@functools.lru_cache(maxsize=4)
def _load_cached(source: str, target: str, stamp: tuple) -> GivenCity:
    if source == "simbench":
        return split_city_net(read_simbench(target), f"SimBench grid {target}")
    return split_city_net(read_pandapower_json(target), Path(target).name)


def load_given_city(source: str, path: str | None = None, simbench_code: str | None = None) -> GivenCity:
    """Read and split a whole-city net (cached per file and modification time, or per code)."""
    return load_cached(_load_cached, source, path, simbench_code)


def describe(city: GivenCity, wijk_codes: Sequence[str]) -> str:
    """One run note: the whole-city net's MV part, how its LV grids went to the simulated wijken
    (`wijk_codes`) and what of it was replaced."""
    stations = ", ".join(city.stations.name.tolist()[:4])
    n_line = len(city.mv_net.line)
    dropped = "; ".join(f"{n} {level} {table}(s), {p_mw:.3f} MW" for level, items in (("LV", city.lv.dropped),
                                                                                      ("MV", city.dropped))
                        for table, (n, p_mw) in items.items()) or "nothing"
    if len(wijk_codes) == 1:
        others = sorted({z for z in city.zone if z and z != wijk_codes[0]})
        n_other = sum(1 for z in city.zone if z in others)
        by = f"all LV grids to the one simulated wijk {wijk_codes[0]}"
        if others:
            by += (f", including {n_other} LV grid(s) of zone(s) {', '.join(repr(z) for z in others[:5])} (other "
                   f"wijken, not simulated)")
    else:
        by = "LV grids to wijken by net.bus.zone"
    return (f"grid given for the whole city ({city.source}): MV network as given ({len(city.stations)} station(s) "
            f"{stations}, {n_line} MV cable(s), {len(city.lv.parts)} MV/LV transformer(s)); {by}; the net's own loads and "
            f"generators were replaced by the scenario's (MV connections at the MV bus nearest their wijk): {dropped}")


def zone_problems(city: GivenCity, wijk_codes: Sequence[str]) -> str | None:
    """Why the LV grids cannot be given to the simulated wijken, or None."""
    if len(wijk_codes) == 1:
        return None
    known = set(wijk_codes)
    orphans = sorted({z for z in city.zone if z not in known})
    if orphans:
        return (f"{city.source}: LV grids are given to wijken by net.bus.zone of their transformer's LV bus, but "
                f"zone(s) {', '.join(repr(z) for z in orphans[:5])} are not simulated wijk codes "
                f"({', '.join(sorted(known))}); set each LV bus's zone to its wijk code, or simulate one wijk")
    empty = sorted(known - set(city.zone))
    if empty:
        return f"{city.source}: no LV grid has zone {', '.join(repr(z) for z in empty)}"
    return None


def build_given_city_grid(city: GivenCity, wijken: Sequence[WijkSpec], *, rng: np.random.Generator,
                          lv_connections: Sequence[LvConnection] = (),
                          mv_connections: Sequence[MvConnection] = ()) -> CityGrid:
    """The `CityGrid` of a whole-city given net: LV grids per wijk with their dwellings, the MV part as is.

    Wijk ``i`` places its dwellings with child generator ``i`` of
    ``rng.spawn(len(wijken))`` (`energy_sim.grid.given.build_given_wijk_grids`).
    """
    import pandapower as pp

    codes = [w.code for w in wijken]
    reason = zone_problems(city, codes)
    if reason:
        raise GivenGridError("zone_mismatch", reason, None)
    children = rng.spawn(len(wijken))
    lv_grids, sub_rows = {}, []
    net = copy_net(city.mv_net)
    for wijk, child in zip(wijken, children):
        given = city.parts_of(wijk.code, len(wijken))
        grids = build_given_wijk_grids(given, wijk.dwellings, rng=child, name=wijk.code,
                                       extra_connections=[c for c in lv_connections if c.wijk_code == wijk.code])
        lv_grids[wijk.code] = grids
        for grid, part in zip(grids, given.parts):
            load = int(pp.create_load(net, part.mv_bus, p_mw=0.0, sn_mva=part.sn_mva, name=grid.name))
            sub_rows.append((grid.name, wijk.code, part.mv_bus, load))

    rings, bus_ring = _rings(net, city.stations)
    net.line["ring"] = rings.reindex(net.line.index).fillna(-1).astype(np.int64).to_numpy() if len(net.line) else []
    open_sw = net.switch[(net.switch.et == "l") & ~net.switch.closed.astype(bool)] if len(net.switch) else net.switch
    open_switches = np.asarray([s for s, line in zip(open_sw.index, open_sw.element)
                                if int(net.line.ring.get(line, -1)) >= 0], np.int64)
    lon0, lat0 = _centre(city, wijken)
    station_of = _station_of(net, city.stations)
    subs = pd.DataFrame(sub_rows, columns=["substation_id", "wijk_code", "bus", "load"])
    xy = [_xy(net, b, lon0, lat0) for b in subs.bus]
    substations = pd.DataFrame({
        "substation_id": subs.substation_id, "wijk_code": subs.wijk_code,
        "station": [station_of.get(int(b), city.stations.name.iloc[0]) for b in subs.bus],
        "ring": [bus_ring.get(int(b), -1) for b in subs.bus], "bus": subs.bus.astype(np.int64),
        "load": subs.load.astype(np.int64), "x_m": [p[0] for p in xy], "y_m": [p[1] for p in xy]})

    rows: dict[str, list[Any]] = {c: [] for c in CONNECTION_COLUMNS
                                  + ["wijk_code", "station", "line", "parallel", "dedicated", "lon", "lat"]}
    centres = {w.code: (w.lon, w.lat) for w in wijken}
    for conn in mv_connections:
        lon, lat = (conn.lon, conn.lat) if conn.lon is not None else centres.get(conn.wijk_code, (lon0, lat0))
        bus = _nearest_mv_bus(net, city.stations, lon, lat)
        element, idx = add_element(net, ConnectionKind(conn.kind), bus, conn.connection_id, conn.p_mw)
        for col, value in zip(rows, (conn.connection_id, str(ConnectionKind(conn.kind)), bus, element, idx, -1,
                                     conn.wijk_code, station_of.get(bus, city.stations.name.iloc[0]), -1, 1, False,
                                     float(lon), float(lat))):
            rows[col].append(value)
    connections = connections_frame(rows)
    for col in ("line", "parallel"):
        connections[col] = connections[col].astype(np.int64)
    connections["dedicated"] = connections["dedicated"].astype(bool)
    mv = MvGrid(net=net, substations=substations, connections=connections, stations=city.stations.copy(),
                open_switches=open_switches)
    return CityGrid(lv_grids=lv_grids, mv=mv)


def _busbar_buses(stations: pd.DataFrame) -> set[int]:
    return {int(b) for busbar in stations.busbar for b in busbar}


def _rings(net, stations: pd.DataFrame) -> tuple[pd.Series, dict[int, int]]:
    """Ring number of every MV line and MV bus: the parts of the MV network between station busbars
    (all sections) and their HV sides, with every switch closed; -1 for lines and buses of none."""
    import pandapower.topology as pp_topology

    graph = pp_topology.create_nxgraph(net, respect_switches=False, include_trafos=False)
    graph.remove_nodes_from(_busbar_buses(stations) | {int(b) for hv in stations.hv_side for b in hv})
    ring_of_bus = {}
    for k, comp in enumerate(sorted(nx.connected_components(graph), key=min)):
        ring_of_bus.update({int(b): k for b in comp})
    ends = net.line[["from_bus", "to_bus"]]
    ring = [ring_of_bus.get(int(f), ring_of_bus.get(int(t), -1)) for f, t in zip(ends.from_bus, ends.to_bus)]
    return pd.Series(ring, index=net.line.index, dtype=np.int64), ring_of_bus


def _station_of(net, stations: pd.DataFrame) -> dict[int, str]:
    """The station each MV bus is fed from in normal operation (first station reached)."""
    import pandapower.topology as pp_topology

    graph = pp_topology.create_nxgraph(net, respect_switches=True, include_trafos=False)
    out: dict[int, str] = {}
    for name, busbar in zip(stations.name, stations.busbar):
        for section in busbar:
            if section in graph:
                for b in nx.node_connected_component(graph, section):
                    out.setdefault(int(b), name)
    return out


def _centre(city: GivenCity, wijken: Sequence[WijkSpec]) -> tuple[float, float]:
    return float(np.mean([w.lon for w in wijken])), float(np.mean([w.lat for w in wijken]))


def _xy(net, bus: int, lon0: float, lat0: float) -> tuple[float, float]:
    lon, lat = lonlat(net, [bus])
    if lon is None:
        return 0.0, 0.0
    x, y = local_xy_m(np.array([lon]), np.array([lat]), lon0, lat0)
    return float(x[0]), float(y[0])


def _nearest_mv_bus(net, stations: pd.DataFrame, lon: float, lat: float) -> int:
    """The MV bus (not HV) nearest (lon, lat) within `MAX_POSITION_OFFSET_KM`, else the first station busbar."""
    hv = {int(b) for hv_side in stations.hv_side for b in hv_side} - _busbar_buses(stations)
    best, best_m = int(stations.mv_bus.iloc[0]), MAX_POSITION_OFFSET_KM * 1000.0
    for b in net.bus.index:
        if b in hv:
            continue
        blon, blat = lonlat(net, [b])
        if blon is None:
            continue
        x, y = local_xy_m(np.array([blon]), np.array([blat]), lon, lat)
        d = math.hypot(float(x[0]), float(y[0]))
        if d < best_m:
            best, best_m = int(b), d
    return best

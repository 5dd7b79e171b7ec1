"""Given grids: LV grids from a pandapower JSON file or a SimBench code.

A grid operator hands over a wijk's LV grids as a pandapower net (a JSON file
written by ``pandapower.to_json``) or names a SimBench grid (shipped inside
the ``simbench`` package, no network access). This module turns such a net
into the `energy_sim.grid.build.LvGrid` objects the engine solves:

1. **Read safely** (`energy_sim.grid.given_io.read_pandapower_json`): the
   file is checked before pandapower's reader, which would otherwise import
   any module the file names, sees it (scenario files and the files they
   name are untrusted, DESIGN.md decision 7).
2. **Split** (`split_lv_grids`) at the MV/LV transformers (in service, LV
   side below 1 kV): each LV grid is the part of the net reachable from one
   transformer's LV bus over lines and closed switches without crossing
   another transformer, copied with its lines, switches and shunts
   unchanged (so the load flow equals ``pandapower.runpp`` on the original,
   tests/grid/test_given.py), plus the transformer and its HV bus, where an
   ``ext_grid`` at 1.0 p.u. stands for the MV network (the engine scales by
   the MV solution, `energy_sim.grid.simulate`). Feeders are numbered by
   the cables leaving the LV busbar (the busbar includes buses joined to it
   by closed bus-bus switches).
3. **Place dwellings** (`build_given_wijk_grids`): the given net's loads are
   the connection points. The wijk's dwellings are spread evenly over them
   (``n // P`` each, the remaining ``n % P`` to points drawn by the seeded
   generator); every dwelling gets its own household ``load`` and rooftop-PV
   ``sgen`` on its point's bus. The net's own loads, generators and storage
   are dropped (the scenario's take their place; `GivenNet.dropped` counts
   them for the run notes). Extra LV connections (public chargers, LV
   batteries) attach to connection points drawn by the same generator.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from energy_sim.grid.build import (
    ConnectionKind,
    LvConnection,
    LvGrid,
    add_element,
    connections_frame,
    copy_net,
    home_connection_rows,
    template_net,
)
from energy_sim.grid.given_io import ALLOWED_CLASSES, GivenGridError, check_json_classes, read_pandapower_json

__all__ = [
    "ALLOWED_CLASSES",
    "GivenGridError",
    "GivenLvPart",
    "GivenNet",
    "build_given_wijk_grids",
    "check_json_classes",
    "check_parameters",
    "closed_bus_group",
    "guarded",
    "kept_columns",
    "load_cached",
    "load_given_net",
    "lonlat",
    "read_pandapower_json",
    "read_simbench",
    "split_lv_grids",
    "table_of",
    "unique_names",
    "unsupported_elements",
]

#: Element tables of the given net whose rows are replaced by the scenario's connections.
REPLACED_TABLES = ("load", "sgen", "storage", "gen", "asymmetric_load", "asymmetric_sgen", "motor", "ward", "xward")
#: Element tables kept in an LV grid as they are (with their bus columns).
KEPT_TABLES = {"bus": (), "line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"), "switch": ("bus",),
               "shunt": ("bus",)}

#: Given substation positions farther than this from their wijk's centre are not used [km]: SimBench
#: grids carry positions in Germany, which would make the generated MV cables hundreds of km long.
MAX_POSITION_OFFSET_KM = 25.0
#: Above this, a voltage is MV or higher [kV]; below, LV.
LV_MAX_KV = 1.0


@dataclass(frozen=True, eq=False)
class GivenLvPart:
    """One MV/LV transformer's LV grid from a given net, before dwellings are placed.

    Attributes
    ----------
    name : str
        The transformer's name in the given net (or ``trafo<index>``).
    net : pandapower.pandapowerNet
        ext_grid (1.0 p.u.) on the transformer's HV bus, the transformer,
        its LV grid's buses, lines, switches and shunts; no loads or sgens.
        ``net.bus.feeder`` / ``net.line.feeder``: -1 HV bus, 0 LV busbar,
        1.. feeders.
    mv_bus, lv_bus, trafo : int
        Indices in ``net``.
    feeder_lines : tuple of int
        ``net.line`` indices of the cables leaving the LV busbar.
    point_bus : numpy.ndarray
        Bus of every connection point (the given net's loads, in their order).
    point_position : numpy.ndarray
        Cables between the LV busbar and each point's bus [-].
    lon, lat : float or None
        Position of the transformer (geodata of its HV or LV bus) [deg], if
        the net has plausible longitude/latitude.
    sn_mva : float
        Transformer rating [MVA].
    """

    name: str
    net: Any
    mv_bus: int
    lv_bus: int
    trafo: int
    feeder_lines: tuple[int, ...]
    point_bus: np.ndarray
    point_position: np.ndarray
    lon: float | None
    lat: float | None
    sn_mva: float


@dataclass(frozen=True, eq=False)
class GivenNet:
    """A given net split into LV grids.

    Attributes
    ----------
    source : str
        What it was read from (file name or SimBench code), for messages.
    parts : list of GivenLvPart
        One per MV/LV transformer, in the order of ``net.trafo``.
    dropped : dict of str to (int, float)
        Per replaced element table, the elements dropped from the LV grids
        and their summed ``p_mw`` [MW].
    """

    source: str
    parts: list[GivenLvPart]
    dropped: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return int(sum(len(p.point_bus) for p in self.parts))


# --------------------------------------------------------------------------
# reading


@functools.cache
def simbench_codes() -> frozenset[str]:
    """Every grid code the installed simbench package ships."""
    import simbench

    return frozenset(simbench.collect_all_simbench_codes())


def read_simbench(code: str):
    """The SimBench net `code` from the data inside the simbench package (no network access)."""
    import simbench

    if code not in simbench_codes():
        from difflib import get_close_matches

        close = get_close_matches(code, sorted(simbench_codes()), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else " (e.g. '1-LV-rural1--0-sw', '1-LV-urban6--0-sw')"
        raise GivenGridError("unknown_simbench_code", f"is not a SimBench grid code{hint}", code)
    return simbench.get_simbench_net(code)


# --------------------------------------------------------------------------
# splitting


def _point(geo: Any) -> tuple[float, float] | None:
    """(x, y) of a GeoJSON point (pandapower 3 ``bus.geo``), or None."""
    if isinstance(geo, str):
        try:
            geo = json.loads(geo)
        except ValueError:
            return None
    if isinstance(geo, dict) and geo.get("type") == "Point":
        coords = geo.get("coordinates")
        if isinstance(coords, (list, tuple)) and len(coords) >= 2:
            try:
                x, y = float(coords[0]), float(coords[1])
            except (TypeError, ValueError):
                return None
            if math.isfinite(x) and math.isfinite(y):
                return x, y
    return None


def lonlat(net, buses: Sequence[int]) -> tuple[float | None, float | None]:
    """Longitude/latitude of the first of `buses` with plausible WGS84 geodata."""
    for bus in buses:
        xy = _point(net.bus.at[bus, "geo"]) if "geo" in net.bus.columns else None
        if xy is None and "bus_geodata" in net and len(net.bus_geodata) and bus in net.bus_geodata.index:
            row = net.bus_geodata.loc[bus]
            xy = (float(row.x), float(row.y))
        if xy is not None and -180 <= xy[0] <= 180 and -90 <= xy[1] <= 90:
            return xy
    return None, None


def table_of(net, name: str) -> pd.DataFrame:
    table = net[name] if name in net else None
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame()


def kept_columns(table: pd.DataFrame, name: str) -> list[str]:
    """The given table's columns that pandapower's own table has (drop source-specific extras)."""
    standard = template_net()[name].columns
    return [c for c in standard if c in table.columns]


#: Parameter rules of the elements a given grid keeps: (table, column, test, rule text). NaN fails every
#: test. The load flow divides by these (pandapower build_branch: z = vk/100 * vn^2/sn, x = sqrt(vk^2 -
#: vkr^2)), so a zero or NaN ends in a FloatingPointError mid-run instead of a problem in validation.
PARAMETER_RULES: tuple[tuple[str, str, Any, str], ...] = (
    ("bus", "vn_kv", lambda v: v > 0, "> 0"),
    ("line", "length_km", lambda v: v > 0, "> 0"),
    ("line", "r_ohm_per_km", lambda v: v >= 0, ">= 0"),
    ("line", "x_ohm_per_km", lambda v: v >= 0, ">= 0"),
    ("line", "c_nf_per_km", lambda v: v >= 0, ">= 0"),
    ("line", "g_us_per_km", lambda v: v >= 0, ">= 0"),
    ("line", "max_i_ka", lambda v: v > 0, "> 0"),
    ("line", "parallel", lambda v: v >= 1, ">= 1"),
    ("trafo", "sn_mva", lambda v: v > 0, "> 0"),
    ("trafo", "vn_hv_kv", lambda v: v > 0, "> 0"),
    ("trafo", "vn_lv_kv", lambda v: v > 0, "> 0"),
    ("trafo", "vk_percent", lambda v: v > 0, "> 0"),
    ("trafo", "vkr_percent", lambda v: v >= 0, ">= 0"),
    ("trafo", "pfe_kw", lambda v: v >= 0, ">= 0"),
    ("trafo", "i0_percent", lambda v: v >= 0, ">= 0"),
    ("trafo", "shift_degree", np.isfinite, "finite"),
    ("trafo", "parallel", lambda v: v >= 1, ">= 1"),
    ("shunt", "p_mw", np.isfinite, "finite"),
    ("shunt", "q_mvar", np.isfinite, "finite"),
    ("shunt", "vn_kv", lambda v: v > 0, "> 0"),
    ("ext_grid", "vm_pu", lambda v: v > 0, "> 0"),
    ("ext_grid", "va_degree", np.isfinite, "finite"),
)


def check_parameters(net, source: str) -> None:
    """Raise `GivenGridError` ``invalid_grid`` naming the first element whose load-flow parameters are
    missing or out of range (`PARAMETER_RULES`), or that the conversion cannot carry over."""

    def fail(table: str, idx: Any, what: str, value: Any) -> GivenGridError:
        name = net[table].at[idx, "name"] if "name" in net[table].columns else None
        named = f" ({name})" if isinstance(name, str) and name else ""
        return GivenGridError("invalid_grid", f"{source}: {table} {idx}{named} {what}; fix the element in the net "
                              f"or take it out of the file", value)

    for table, column, test, text in PARAMETER_RULES:
        frame = table_of(net, table)
        if frame.empty or column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            bad = ~np.asarray(test(values), bool)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise fail(table, frame.index[k], f"has {column} = {values[k]:g}; must be {text}", float(values[k]))
    line = table_of(net, "line")
    if not line.empty:
        zero = (line.r_ohm_per_km.astype(float) + line.x_ohm_per_km.astype(float)) * line.length_km.astype(float) == 0
        if zero.any():
            raise fail("line", line.index[zero.to_numpy()][0], "has zero impedance (r_ohm_per_km = x_ohm_per_km = 0); "
                       "join the buses with a bus-bus switch instead", 0.0)
    trafo = table_of(net, "trafo")
    if not trafo.empty:
        over = trafo.vkr_percent.astype(float) > trafo.vk_percent.astype(float)
        if over.any():
            idx = trafo.index[over.to_numpy()][0]
            raise fail("trafo", idx, f"has vkr_percent = {trafo.at[idx, 'vkr_percent']:g} above vk_percent = "
                       f"{trafo.at[idx, 'vk_percent']:g}; the short-circuit reactance would be imaginary",
                       float(trafo.at[idx, "vkr_percent"]))
        if "tap_pos" in trafo.columns:
            tapped = pd.to_numeric(trafo.tap_pos, errors="coerce").notna().to_numpy()
            for column in ("tap_neutral", "tap_step_percent"):
                if column in trafo.columns:
                    values = pd.to_numeric(trafo[column], errors="coerce").to_numpy(float)
                    bad = tapped & ~np.isfinite(values)
                    if bad.any():
                        k = int(np.flatnonzero(bad)[0])
                        raise fail("trafo", trafo.index[k], f"has tap_pos set but {column} = {values[k]:g}; "
                                   f"must be finite", float(values[k]))
        if "tap_dependency_table" in trafo.columns:
            dependent = trafo.tap_dependency_table.fillna(False).astype(bool).to_numpy()
            if dependent.any():
                raise fail("trafo", trafo.index[dependent][0], "has tap_dependency_table = True; tap-dependent "
                           "impedance tables are not carried over into the simulated grids, so set it to False "
                           "(the impedance at the neutral tap is then used)", True)


#: Element tables a given grid cannot carry over (the conversion keeps buses, lines, two-winding
#: transformers, switches and shunts, and replaces loads and generators).
UNSUPPORTED_TABLES = ("trafo3w", "impedance", "dcline", "tcsc", "ssc", "svc", "vsc")


def unsupported_elements(net, buses: set[int]) -> list[str]:
    """``"<count> <table>"`` for every `UNSUPPORTED_TABLES` table with elements on `buses`."""
    found = []
    for name in UNSUPPORTED_TABLES:
        table = table_of(net, name)
        if table.empty:
            continue
        touches = np.zeros(len(table), bool)
        for c in [c for c in table.columns if c.endswith("_bus") or c == "bus"]:
            touches |= table[c].isin(buses).to_numpy()
        if touches.any():
            found.append(f"{int(touches.sum())} {name}")
    return found


def closed_bus_group(net, buses: set[int]) -> set[int]:
    """`buses` and every bus joined to them over closed bus-bus switches (busbar sections, couplers)."""
    group = {int(b) for b in buses}
    switches = table_of(net, "switch")
    if switches.empty:
        return group
    bb = switches[(switches.et == "b") & switches.closed.astype(bool)]
    graph = nx.Graph()
    graph.add_edges_from(zip(bb.bus.astype(int), bb.element.astype(int)))
    for b in list(group):
        if b in graph:
            group |= {int(x) for x in nx.node_connected_component(graph, b)}
    return group


def split_lv_grids(net, source: str) -> GivenNet:
    """Split a pandapower net into one `GivenLvPart` per MV/LV transformer (see module docstring).

    Raises
    ------
    GivenGridError
        No MV/LV transformer, two transformers feeding one LV network,
        element types that cannot be carried over, an LV grid without loads.
    """
    import pandapower.topology as pp_topology

    if float(getattr(net, "f_hz", 50.0)) != 50.0:
        raise GivenGridError("frequency", f"{source} is a {net.f_hz} Hz net; the grids here are 50 Hz (set net.f_hz "
                             f"to 50 if the line data are for 50 Hz)", net.f_hz)
    bus, trafo = table_of(net, "bus"), table_of(net, "trafo")
    if bus.empty or trafo.empty or not {"vn_kv", "in_service"} <= set(bus.columns):
        raise GivenGridError("no_mv_lv_transformer", f"{source} has no transformers; a given grid needs at least one "
                             f"MV/LV transformer (LV side below {LV_MAX_KV:g} kV)", 0)
    bus_kv = bus.vn_kv
    in_service = trafo.in_service.astype(bool) & trafo.hv_bus.isin(bus.index) & trafo.lv_bus.isin(bus.index)
    trafo = trafo[in_service]
    mv_lv = trafo[(bus_kv.reindex(trafo.lv_bus).to_numpy() < LV_MAX_KV)
                  & (bus_kv.reindex(trafo.hv_bus).to_numpy() >= LV_MAX_KV)]
    if mv_lv.empty:
        raise GivenGridError("no_mv_lv_transformer", f"{source} has no MV/LV transformer in service (a transformer "
                             f"with its LV side below {LV_MAX_KV:g} kV)", 0)
    graph = pp_topology.create_nxgraph(net, respect_switches=True, include_out_of_service=False,
                                       include_trafos=False, include_trafo3ws=False)
    lv_buses = set(bus.index[(bus_kv < LV_MAX_KV) & bus.in_service.astype(bool)])
    lv_graph = graph.subgraph(lv_buses)
    owner: dict[int, int] = {}
    components: dict[int, set[int]] = {}
    for t, lv_bus in zip(mv_lv.index, mv_lv.lv_bus):
        if lv_bus not in lv_graph:
            raise GivenGridError("transformer_without_lv_bus", f"{source}: transformer {t} "
                                 f"({mv_lv.at[t, 'name']!s}) feeds bus {lv_bus}, which is out of service", t)
        comp = nx.node_connected_component(lv_graph, lv_bus)
        other = owner.get(lv_bus)
        if other is not None:
            raise GivenGridError(
                "several_transformers_per_lv_grid",
                f"{source}: transformers {other} and {t} feed the same LV network (parallel or meshed over closed "
                f"switches); an LV grid is solved under one transformer, so open the switch between them in the "
                f"file", f"{mv_lv.at[other, 'name']!s}, {mv_lv.at[t, 'name']!s}")
        owner.update({b: t for b in comp})
        components[t] = comp

    unsupported = unsupported_elements(net, set(owner))
    if unsupported:
        raise GivenGridError("unsupported_elements", f"{source} has {', '.join(unsupported)} in its LV grids; given LV "
                             f"grids may hold lines, switches, shunts, loads and generators", ", ".join(unsupported))

    dropped: dict[str, tuple[int, float]] = {}
    for name in REPLACED_TABLES:
        table = table_of(net, name)
        if table.empty or "bus" not in table.columns:
            continue
        mine = table.bus.isin(owner.keys())
        if mine.any():
            p = float(table.loc[mine, "p_mw"].fillna(0).sum()) if "p_mw" in table.columns else 0.0
            dropped[name] = (int(mine.sum()), p)

    names = [str(n).strip() if isinstance(n, str) and str(n).strip() else f"trafo{t}"
             for t, n in zip(mv_lv.index, mv_lv["name"])]
    parts = []
    loads = table_of(net, "load")
    for t, name in zip(mv_lv.index, names):
        comp = components[t]
        row = mv_lv.loc[t]
        hv, lv = int(row.hv_bus), int(row.lv_bus)
        parts.append(_part(net, source, name, t, hv, lv, comp, loads))
    return GivenNet(source, parts, dropped)


def _part(net, source: str, name: str, t: int, hv: int, lv: int, comp: set[int], loads: pd.DataFrame) -> GivenLvPart:
    """The standalone net of transformer `t` and its LV component `comp`."""
    import pandapower as pp

    out = copy_net(template_net())
    out.name = name
    keep = sorted(comp | {hv})
    kept = set(keep)
    src_bus = net.bus
    out.bus = src_bus.loc[keep, kept_columns(src_bus, "bus")].copy()
    lines = table_of(net, "line")
    if not lines.empty:
        sel = lines.from_bus.isin(kept) & lines.to_bus.isin(kept)
        out.line = lines.loc[sel, kept_columns(lines, "line")].copy()
    out.trafo = net.trafo.loc[[t], kept_columns(net.trafo, "trafo")].copy()
    switches = table_of(net, "switch")
    if not switches.empty:
        et = switches.et
        sel = switches.bus.isin(kept) & (
            ((et == "b") & switches.element.isin(kept))
            | ((et == "l") & switches.element.isin(out.line.index))
            | ((et == "t") & (switches.element == t)))
        out.switch = switches.loc[sel, kept_columns(switches, "switch")].copy()
    shunts = table_of(net, "shunt")
    if not shunts.empty:
        out.shunt = shunts.loc[shunts.bus.isin(comp), kept_columns(shunts, "shunt")].copy()
    _open_ended_lines_as_shunts(net, out, comp)
    pp.create_ext_grid(out, hv, vm_pu=1.0, va_degree=0.0, name=f"{name} MV supply")
    check_parameters(out, f"{source}, LV grid under transformer {name!r}")

    busbar = closed_bus_group(out, {lv})  # the LV busbar with its sections
    import pandapower.topology as pp_topology

    graph = pp_topology.create_nxgraph(out, respect_switches=True, include_out_of_service=False,
                                       include_trafos=False)
    graph.remove_nodes_from(list(busbar) + [hv])
    line_ends = out.line[["from_bus", "to_bus"]]
    heads = out.line.index[line_ends.from_bus.isin(busbar) ^ line_ends.to_bus.isin(busbar)]
    bus_feeder = pd.Series(-1, index=out.bus.index, dtype=np.int64)
    bus_feeder[list(busbar)] = 0
    feeder_of_head = {}
    for line in heads:
        far = int(line_ends.at[line, "to_bus"] if line_ends.at[line, "from_bus"] in busbar
                  else line_ends.at[line, "from_bus"])
        if far in graph and bus_feeder[far] > 0:
            feeder_of_head[line] = int(bus_feeder[far])  # a second cable into an already numbered feeder
            continue
        number = max(feeder_of_head.values(), default=0) + 1
        feeder_of_head[line] = number
        members = nx.node_connected_component(graph, far) if far in graph else {far}
        bus_feeder[list(members)] = number
    out.bus["feeder"] = bus_feeder.to_numpy(np.int64)
    line_feeder = np.maximum(bus_feeder.reindex(out.line.from_bus).to_numpy(),
                             bus_feeder.reindex(out.line.to_bus).to_numpy())
    out.line["feeder"] = line_feeder.astype(np.int64)
    # unsupplied LV buses would make the load flow singular; a closed-switch component is connected by
    # construction, but an out-of-service line inside it can cut a part off
    unsupplied = set(pp_topology.unsupplied_buses(out))
    if unsupplied:
        raise GivenGridError("unsupplied_buses", f"{source}: {len(unsupplied)} bus(es) under transformer {name!r} "
                             f"are not supplied in the net as given (e.g. bus {sorted(unsupplied)[0]})",
                             len(unsupplied))

    # cables between the busbar and each bus (bus-bus switches count nothing)
    hops = nx.multi_source_dijkstra_path_length(
        pp_topology.create_nxgraph(out, respect_switches=True, include_trafos=False), busbar,
        weight=lambda u, v, edges: 0 if all(key[0] == "switch" for key in edges) else 1)
    mine = loads[loads.bus.isin(comp)] if not loads.empty else loads
    if "in_service" in mine.columns:
        mine = mine[mine.in_service.astype(bool)]
    point_bus = mine.bus.to_numpy(np.int64) if len(mine) else np.zeros(0, np.int64)
    if point_bus.size == 0:
        raise GivenGridError("no_connection_points", f"{source}: the LV grid under transformer {name!r} has no "
                             f"loads; its loads are the connection points dwellings are placed on", name)
    point_position = np.array([hops.get(int(b), 0) for b in point_bus], np.int64)
    lon, lat = lonlat(net, [hv, lv])
    return GivenLvPart(name, out, hv, lv, int(t), tuple(int(h) for h in heads), point_bus, point_position,
                       lon, lat, float(net.trafo.at[t, "sn_mva"]))


def _open_ended_lines_as_shunts(net, out, comp: set[int]) -> None:
    """Cables from this LV grid to another, open at the far end (a normally-open point between two LV
    grids), as shunts at their energised end.

    pandapower keeps such a line in the model, open at one end: its charging
    admittance still loads the bus it hangs on. Seen from that bus the pi
    section is ``Y = y/2 + 1 / (z + 2/y)`` (``z`` series impedance, ``y``
    total shunt admittance of the line [S]); a pandapower shunt of
    ``p + jq = conj(Y) vn^2`` [MVA] at the bus's nominal voltage is the same
    constant admittance.
    """
    import pandapower as pp

    lines, switches = table_of(net, "line"), table_of(net, "switch")
    if lines.empty:
        return
    inside_from, inside_to = lines.from_bus.isin(comp), lines.to_bus.isin(comp)
    crossing = lines[(inside_from ^ inside_to) & lines.in_service.astype(bool)]
    if crossing.empty or switches.empty:
        return
    open_sw = switches[(switches.et == "l") & ~switches.closed.astype(bool)]
    open_at = set(zip(open_sw.element.astype(int), open_sw.bus.astype(int)))
    for idx, line in crossing.iterrows():
        near, far = (int(line.from_bus), int(line.to_bus)) if line.from_bus in comp else (int(line.to_bus),
                                                                                         int(line.from_bus))
        if (idx, near) in open_at or (idx, far) not in open_at:
            continue  # not energised from this grid (or not open at all: then it would be in this grid)
        length, par = float(line.length_km), float(line.parallel)
        z = complex(line.r_ohm_per_km, line.x_ohm_per_km) * length / par
        g_s = float(np.nan_to_num(line.get("g_us_per_km", 0.0))) * 1e-6
        y = complex(g_s, 2 * math.pi * float(net.f_hz) * float(line.c_nf_per_km) * 1e-9) * length * par
        if y == 0:
            continue
        y_in = y / 2 + 1 / (z + 2 / y)
        vn = float(net.bus.vn_kv.at[near])
        s = np.conj(y_in) * vn**2
        pp.create_shunt(out, near, q_mvar=float(s.imag), p_mw=float(s.real), vn_kv=vn,
                        name=f"{line['name'] if isinstance(line['name'], str) else idx} (open end)")


@functools.lru_cache(maxsize=16)
def _load_cached(source: str, target: str, stamp: tuple) -> GivenNet:
    if source == "simbench":
        net = read_simbench(target)
        return split_lv_grids(net, f"SimBench grid {target}")
    net = read_pandapower_json(target)
    return split_lv_grids(net, Path(target).name)


def load_given_net(source: str, path: str | None = None, simbench_code: str | None = None) -> GivenNet:
    """Read and split a given grid: ``source`` ``"pandapower_json"`` (`path`) or ``"simbench"`` (`simbench_code`).

    Results are cached per file (path, size and modification time) or code,
    so validation and the run read a file once. The returned object is shared:
    do not modify its nets (`build_given_wijk_grids` copies them).
    """
    return load_cached(_load_cached, source, path, simbench_code)


def load_cached(load, source: Any, path: str | None, simbench_code: str | None):
    """``load(source, target, stamp)`` through `guarded`, for a file (`path`) or a SimBench code.

    `load` is an ``lru_cache``d reader: the stamp (size and modification time
    of the file) makes a changed file be read again.
    """
    source = str(getattr(source, "value", source))
    if source == "simbench":
        target, stamp, shown = str(simbench_code), (), f"SimBench grid {simbench_code}"
    else:
        p = Path(str(path))
        try:
            st = p.stat()
        except OSError as exc:
            raise GivenGridError("missing_file", f"cannot read {p.name} ({type(exc).__name__})", str(path)) from None
        target, stamp, shown = str(p.resolve()), (st.st_size, st.st_mtime_ns), p.name
    return guarded(load, source, target, stamp, shown=shown)


def guarded(load, *args, shown: str):
    """``load(*args)``; an unexpected failure on an untrusted net becomes a `GivenGridError` (no traceback)."""
    try:
        return load(*args)
    except GivenGridError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandapower and pandas fail in many ways on odd nets
        raise GivenGridError("invalid_grid", f"{shown} could not be split at its MV/LV transformers "
                             f"({type(exc).__name__}: {str(exc)[:200]})", None) from None


# --------------------------------------------------------------------------
# dwellings


def spread_dwellings(n_dwellings: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
    """Dwellings per connection point: ``n // P`` each, one more on ``n % P`` points drawn by `rng` [-]."""
    if n_points < 1:
        raise ValueError("need at least one connection point")
    counts = np.full(n_points, n_dwellings // n_points, np.int64)
    counts[rng.permutation(n_points)[: n_dwellings % n_points]] += 1
    return counts


def build_given_wijk_grids(given: GivenNet, n_homes: int, *, rng: np.random.Generator, name: str,
                           extra_connections: Sequence[LvConnection] = ()) -> list[LvGrid]:
    """The wijk's LV grids from a given net, with its dwellings and extra connections placed.

    Grid ``i`` is named ``f"{name}/{part name}"`` (the given transformer's
    name). Draws, in this order: the points that get one dwelling more
    (`spread_dwellings`), then the point of every extra connection; the
    result depends only on the given net, `n_homes`, the extras and `rng`.

    Parameters
    ----------
    given : GivenNet
        The split net (not modified).
    n_homes : int
        Dwellings of the wijk [-]; at least one per connection point.
    rng : numpy.random.Generator
        Source of the draws.
    name : str
        Wijk code, prefix of the grid and connection ids.
    extra_connections : sequence of LvConnection
        Public chargers, LV batteries ... of this wijk.
    """
    if n_homes < given.n_points:
        raise ValueError(f"{given.source} has {given.n_points} connection points but wijk {name} only {n_homes} "
                         f"dwellings; every point needs at least one")
    counts = spread_dwellings(n_homes, given.n_points, rng)
    starts = np.concatenate(([0], np.cumsum([len(p.point_bus) for p in given.parts])))
    extra_at = rng.integers(0, given.n_points, len(extra_connections))
    grid_names = substation_ids(given, name)
    grids = []
    for k, part in enumerate(given.parts):
        mine = [c for c, at in zip(extra_connections, extra_at.tolist()) if starts[k] <= at < starts[k + 1]]
        at = [int(a - starts[k]) for a in extra_at.tolist() if starts[k] <= a < starts[k + 1]]
        grids.append(_lv_grid(part, grid_names[k], counts[starts[k]:starts[k + 1]], mine, at))
    return grids


def given_positions(given: GivenNet, lon_deg: float, lat_deg: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The transformers' positions from the given net [deg], or None when any is missing or lies more than
    `MAX_POSITION_OFFSET_KM` from the wijk centre (`lon_deg`, `lat_deg`)."""
    if any(p.lon is None for p in given.parts):
        return None
    lon = np.array([p.lon for p in given.parts], float)
    lat = np.array([p.lat for p in given.parts], float)
    # equirectangular distance, ample for a plausibility check
    dx_km = np.radians(lon - lon_deg) * 6371.0 * math.cos(math.radians(lat_deg))
    dy_km = np.radians(lat - lat_deg) * 6371.0
    if np.any(np.hypot(dx_km, dy_km) > MAX_POSITION_OFFSET_KM):
        return None
    return lon, lat


def describe(given: GivenNet, wijk_code: str, n_homes: int, positions_used: bool | None) -> str:
    """One run note: what a wijk's given grid holds and what was replaced (`positions_used` None: say
    nothing of positions or of what was dropped, a whole-city net's note does)."""
    trafos = ", ".join(f"{p.name} ({p.sn_mva * 1000:g} kVA)" for p in given.parts[:6])
    more = f" and {len(given.parts) - 6} more" if len(given.parts) > 6 else ""
    low, high = n_homes // given.n_points, -(-n_homes // given.n_points)
    dropped = "; ".join(f"{n} {table}(s), {p_mw:.3f} MW" for table, (n, p_mw) in given.dropped.items()) or "nothing"
    text = (f"wijk {wijk_code}: LV grids given ({given.source}): {len(given.parts)} transformer(s) {trafos}{more}; "
            f"{n_homes} dwellings spread over {given.n_points} connection points ({low}-{high} per point)")
    if positions_used is None:
        return text
    where = "positions from the given net" if positions_used else \
        "positions placed as for generated wijken (the given net has none within 25 km of the wijk)"
    return f"{text}; the given net's own elements were replaced by the scenario's: {dropped}; {where}"


def substation_ids(given: GivenNet, wijk_code: str) -> list[str]:
    """The substation (LV grid) ids of a wijk with a given net: ``<wijk code>/<transformer name>``."""
    return unique_names([f"{wijk_code}/{p.name}" for p in given.parts])


def unique_names(names: list[str]) -> list[str]:
    """`names` with repeats numbered: ``["a", "a"]`` -> ``["a", "a (2)"]``."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _lv_grid(part: GivenLvPart, name: str, counts: np.ndarray, extras: Sequence[LvConnection],
             extra_point: Sequence[int]) -> LvGrid:
    import pandapower as pp

    net = copy_net(part.net)
    net.name = name
    prefix = f"{name}/"
    net.bus["name"] = [f"{prefix}{n}" if isinstance(n, str) and n else f"{prefix}bus{b}"
                       for b, n in zip(net.bus.index, net.bus["name"])]
    net.trafo["name"] = [f"{prefix}{part.name}"]
    n_homes = int(counts.sum())
    home_bus = np.repeat(part.point_bus, counts)
    home_point = np.repeat(np.arange(len(counts)), counts)
    home_ids = [f"{prefix}home{k:04d}" for k in range(n_homes)]
    loads = np.asarray(pp.create_loads(net, home_bus, p_mw=0.0, name=home_ids), np.int64)
    sgens = np.asarray(pp.create_sgens(net, home_bus, p_mw=0.0, name=[f"{h} pv" for h in home_ids]), np.int64)
    feeder = net.bus.feeder.reindex(home_bus).to_numpy(np.int64)
    position = part.point_position[home_point]
    rows = home_connection_rows(home_ids, home_bus, loads, sgens, feeder, position)
    for conn, point in zip(extras, extra_point):
        kind = ConnectionKind(conn.kind)
        bus = int(part.point_bus[point])
        element, index = add_element(net, kind, bus, conn.connection_id, conn.p_kw / 1e3)
        for col, value in zip(rows, (conn.connection_id, str(kind), bus, element, index,
                                     int(net.bus.feeder.at[bus]), int(part.point_position[point]))):
            rows[col].append(value)
    connections = connections_frame(rows)
    connections["position"] = connections["position"].astype(np.int64)
    if connections["connection_id"].duplicated().any():
        dup = connections.loc[connections["connection_id"].duplicated(), "connection_id"].tolist()
        raise ValueError(f"duplicate connection ids in LV grid {name!r}: {dup[:5]}; ids must be unique")
    return LvGrid(name=name, net=net, connections=connections, mv_bus=part.mv_bus, lv_bus=part.lv_bus,
                  trafo=int(part.trafo), n_homes=n_homes, n_feeders=len(set(net.line.feeder[net.line.feeder > 0])),
                  sn_mva=part.sn_mva, feeder_lines=part.feeder_lines)

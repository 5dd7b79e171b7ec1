"""The results schema: one labelled `xarray.Dataset` per run.

Dimensions
    ``time``      start of each step [UTC]
    ``wijk``      CBS wijk code (coords ``wijk_name``, ``wijk_lon_deg``, ``wijk_lat_deg``, ``wijk_homes``)
    ``trafo``     every transformer: MV/LV substations and HV/MV stations
                  (coords ``trafo_wijk``, ``trafo_level``, ``trafo_sn_mva``)
    ``line``      LV feeder-head cables and MV cables (``line_wijk``, ``line_level``, ``line_s_rated_mva``)
    ``bus``       LV buses (``bus_wijk``), reduced over time
    ``category``  what power is for (household, heat pump, EV, rooftop PV, ...)
    ``event``     congestion events (an element above 100 % without a break)
    ``heat_network``, ``heat_source``  heat networks and their sources (horizon totals)
    ``battery``   batteries (horizon totals)
    ``outage``    outages applied in the run, planned and random (coords ``outage_element``,
                  ``outage_kind``, ``outage_wijk``, ``outage_origin``, ``outage_name``,
                  ``outage_start``, ``outage_end``; variables ``outage_energy_not_served_mwh``,
                  ``outage_production_lost_mwh``)

Energy not served.  ``wijk_p_mw``/``wijk_e_mwh`` hold what the LV
connections ask for and could produce: household, heat-pump, EV demand and
rooftop PV keep their values while an LV grid is without supply; what was
asked for but not delivered because of an outage is
``wijk_energy_not_served_mwh`` (and per outage,
``outage_energy_not_served_mwh``).  MV generation lost to outages is already
taken out of ``solar_field``/``wind``.

Every variable has ``units`` and ``long_name`` attributes and its unit in its
name.  Power by category follows the load convention: consumption positive,
generation negative, so the categories add up to the net demand. The
``heat_network`` category is the electricity of the heat plants (heat pumps,
e-boilers, circulation pumps); ``battery`` is the batteries' power, charging
positive, so over a horizon it sums to their conversion losses plus the
change of their stored energy.

Heat balance of each heat network over the horizon (``heat_network_*_mwh``)::

    sum over sources of heat_mwh + unserved = demand + pipe_loss + buffer_loss + buffer_change
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from energy_sim.grid.metrics import LoadingAccumulator

CATEGORIES = ["household", "heat_pump", "ev", "heat_network", "battery", "rooftop_pv", "solar_field", "wind"]


def _var(dims, values, units: str, long_name: str, dtype=np.float32) -> xr.Variable:
    return xr.Variable(dims, np.asarray(values, dtype=dtype), attrs={"units": units, "long_name": long_name})


def _element_coords(prefix: str, table: pd.DataFrame) -> dict[str, xr.Variable]:
    rated = "trafo_sn_mva" if prefix == "trafo" else "line_s_rated_mva"
    return {
        prefix: xr.Variable(prefix, table[prefix].astype(str).to_numpy()),
        f"{prefix}_wijk": xr.Variable(prefix, table.wijk.astype(str).to_numpy()),
        f"{prefix}_level": xr.Variable(prefix, table.level.astype(str).to_numpy()),
        rated: _var(prefix, table.s_rated_mva, "MVA", f"rating of the {prefix}", np.float64),
    }


def _wijk_max(loading: np.ndarray, element_wijk: np.ndarray, wijk_codes: list[str]) -> np.ndarray:
    out = np.full((loading.shape[0], len(wijk_codes)), np.nan, dtype=np.float32)
    for k, code in enumerate(wijk_codes):
        columns = element_wijk == code
        if columns.any():
            out[:, k] = np.nanmax(loading[:, columns], axis=1)
    return out


def block_dataset(
    time_utc: pd.DatetimeIndex,
    wijk_codes: list[str],
    trafo_table: pd.DataFrame,
    line_table: pd.DataFrame,
    trafo_loading_pct: np.ndarray,
    line_loading_pct: np.ndarray,
    wijk_vm_min_pu: np.ndarray,
    wijk_vm_max_pu: np.ndarray,
    category_p_mw: np.ndarray,
) -> xr.Dataset:
    """The time series of one block (see the module docstring for the schema)."""
    time = xr.Variable("time", time_utc.tz_convert("UTC").tz_localize(None).to_numpy(),
                       attrs={"long_name": "start of the time step", "time_zone": "UTC"})
    mv_lv = (trafo_table.level == "mv/lv").to_numpy()
    lv_lines = (line_table.level == "lv").to_numpy()
    data_vars = {
        "trafo_loading_pct": _var(("time", "trafo"), trafo_loading_pct, "%", "transformer loading (current-based)"),
        "line_loading_pct": _var(("time", "line"), line_loading_pct, "%", "cable loading, max of both ends"),
        "wijk_vm_min_pu": _var(("time", "wijk"), wijk_vm_min_pu, "1", "lowest LV bus voltage in the wijk"),
        "wijk_vm_max_pu": _var(("time", "wijk"), wijk_vm_max_pu, "1", "highest LV bus voltage in the wijk"),
        "wijk_trafo_loading_max_pct": _var(
            ("time", "wijk"),
            _wijk_max(trafo_loading_pct[:, mv_lv], trafo_table.wijk.to_numpy()[mv_lv], wijk_codes),
            "%", "loading of the most loaded MV/LV transformer in the wijk"),
        "wijk_feeder_loading_max_pct": _var(
            ("time", "wijk"),
            _wijk_max(line_loading_pct[:, lv_lines], line_table.wijk.to_numpy()[lv_lines], wijk_codes),
            "%", "loading of the most loaded LV feeder head in the wijk"),
        "wijk_p_mw": _var(("time", "wijk", "category"), category_p_mw, "MW",
                          "power by category (consumption positive, generation negative)"),
    }
    coords = {
        "time": time,
        "wijk": xr.Variable("wijk", np.asarray(wijk_codes, dtype=str)),
        "category": xr.Variable("category", np.asarray(CATEGORIES, dtype=str)),
        **_element_coords("trafo", trafo_table),
        **_element_coords("line", line_table),
    }
    return xr.Dataset(data_vars, coords)


def _ev_variables(report, ev_group_wijk: list[str], wijk_codes: list[str], start_utc: pd.Timestamp) -> dict:
    """EV energy per wijk, queue figures per charging location, the congestion manager's log."""
    energy = report.energy_by_group.groupby(np.asarray(ev_group_wijk)).sum().reindex(wijk_codes, fill_value=0.0)
    queues = report.queues
    log = report.interventions
    when = lambda seconds: (start_utc + pd.to_timedelta(np.asarray(seconds, dtype=float), unit="s")).tz_convert(
        "UTC").tz_localize(None).to_numpy() if len(log) else np.array([], dtype="datetime64[ns]")
    variables = {
        "wijk_ev_requested_kwh": _var("wijk", energy.requested_kwh, "kWh", "EV energy asked for by finished sessions", np.float64),
        "wijk_ev_delivered_kwh": _var("wijk", energy.delivered_kwh, "kWh", "EV energy delivered", np.float64),
        "wijk_ev_undelivered_kwh": _var("wijk", energy.undelivered_kwh, "kWh", "EV energy not delivered by departure", np.float64),
        "wijk_ev_sessions": _var("wijk", energy.sessions, "1", "finished EV charging sessions", np.int64),
        "park_arrived": _var("park", queues.arrived, "1", "EVs arriving at the charging location", np.int64),
        "park_served": _var("park", queues.served, "1", "EVs that got a charge point", np.int64),
        "park_balked": _var("park", queues.balked, "1", "EVs that left without charging (all points occupied)", np.int64),
        "park_mean_wait_s": _var("park", queues.mean_wait_s, "s", "mean wait for a charge point", np.float64),
        "park_max_wait_s": _var("park", queues.max_wait_s, "s", "longest wait for a charge point", np.float64),
        "intervention_time": xr.Variable("intervention", when(log.time_s) if len(log) else when([]),
                                         attrs={"long_name": "start of the block the decision applies to", "time_zone": "UTC"}),
        "intervention_element": xr.Variable("intervention", log.element.astype(str).to_numpy() if len(log) else np.array([], dtype=str)),
        "intervention_measure": xr.Variable("intervention", log.measure.astype(str).to_numpy() if len(log) else np.array([], dtype=str)),
    }
    for column, units, long_name in (
        ("forecast_loading_pct", "%", "forecast loading without the measure"),
        ("planned_loading_pct", "%", "forecast loading with the measure"),
        ("cap_min_kw", "kW", "lowest EV charging cap in the block"),
        ("energy_shifted_kwh", "kWh", "EV energy held back by the cap (delivered later or not at all)"),
    ):
        variables[f"intervention_{column}"] = _var("intervention", log[column] if len(log) else [], units, long_name, np.float64)
    variables["park"] = xr.Variable("park", queues.index.astype(str).to_numpy())
    return variables


def _heat_network_variables(table: pd.DataFrame, heat: pd.DataFrame, electricity: pd.DataFrame) -> dict:
    """Horizon totals of the heat networks (see the module docstring for their balance)."""
    dims = ("heat_network", "heat_source")
    variables = {
        "heat_network": xr.Variable("heat_network", table.index.astype(str).to_numpy()),
        "heat_source": xr.Variable("heat_source", heat.columns.astype(str).to_numpy()),
        "heat_network_wijk": xr.Variable("heat_network", table.wijk.astype(str).to_numpy()),
        "heat_network_dwellings": _var("heat_network", table.connected_dwellings, "1", "connected dwellings", np.int64),
        "heat_network_heat_mwh": _var(dims, heat.to_numpy(), "MWh", "heat from each source", np.float64),
        "heat_network_source_electricity_mwh": _var(dims, electricity.to_numpy(), "MWh",
                                                    "electricity of each source (heat pumps, e-boilers)", np.float64),
    }
    for column, long_name in (
        ("demand_mwh", "heat delivered to the connected dwellings"),
        ("pipe_loss_mwh", "heat lost from the pipes"),
        ("buffer_loss_mwh", "standing loss of the buffer"),
        ("buffer_change_mwh", "heat in the buffer at the end minus at the start"),
        ("unserved_mwh", "heat demand no source could meet"),
        ("gas_mwh", "gas burnt by the peak boilers (upper heating value)"),
        ("pump_mwh", "electricity of the circulation pumps"),
        ("electricity_mwh", "electricity of the plant: heat pumps, e-boilers and pumps"),
    ):
        variables[f"heat_network_{column}"] = _var("heat_network", table[column], "MWh", long_name, np.float64)
    return variables


def _battery_variables(table: pd.DataFrame) -> dict:
    """Horizon totals of the batteries."""
    return {
        "battery": xr.Variable("battery", table.index.astype(str).to_numpy()),
        "battery_wijk": xr.Variable("battery", table.wijk.astype(str).to_numpy()),
        "battery_level": xr.Variable("battery", table.level.astype(str).to_numpy(),
                                     attrs={"long_name": "grid level of the connection (lv or mv)"}),
        "battery_dispatch": xr.Variable("battery", table.dispatch.astype(str).to_numpy(),
                                        attrs={"long_name": "dispatch rule"}),
        "battery_p_mw": _var("battery", table.p_mw, "MW", "power limit", np.float64),
        "battery_e_mwh": _var("battery", table.e_mwh, "MWh", "energy capacity", np.float64),
        "battery_charged_mwh": _var("battery", table.charged_mwh, "MWh", "energy drawn from the grid", np.float64),
        "battery_discharged_mwh": _var("battery", table.discharged_mwh, "MWh", "energy fed to the grid", np.float64),
        "battery_soc_end_frac": _var("battery", table.soc_end_frac, "1", "state of charge at the end", np.float64),
    }


def _outage_variables(table: pd.DataFrame | None, wijk_not_served_mwh: np.ndarray | None,
                      n_wijk: int) -> tuple[dict, dict]:
    """The outage table (dimension ``outage``: what, where and when as coordinates, energies as
    variables) and energy not served per wijk; returns (data_vars, coords)."""
    if table is None:
        table = pd.DataFrame({c: [] for c in ("element", "kind", "wijk", "origin", "name", "start_utc", "end_utc",
                                              "energy_not_served_mwh", "production_lost_mwh")})
    text = lambda column: table[column].astype(str).to_numpy() if len(table) else np.array([], dtype=str)  # noqa: E731
    when = lambda column: pd.DatetimeIndex(table[column]).tz_convert("UTC").tz_localize(None).to_numpy() \
        if len(table) else np.array([], dtype="datetime64[ns]")  # noqa: E731
    coords = {
        "outage_element": xr.Variable("outage", text("element"), attrs={"long_name": "element out of service"}),
        "outage_kind": xr.Variable("outage", text("kind"),
                                   attrs={"long_name": "mv_cable, mv_lv_transformer, wind_turbine or solar_field"}),
        "outage_wijk": xr.Variable("outage", text("wijk"), attrs={"long_name": "wijk of the element"}),
        "outage_origin": xr.Variable("outage", text("origin"), attrs={"long_name": "planned (scenario) or random"}),
        "outage_name": xr.Variable("outage", text("name"), attrs={"long_name": "label of the outage"}),
        "outage_start": xr.Variable("outage", when("start_utc"),
                                    attrs={"long_name": "out of service from", "time_zone": "UTC"}),
        "outage_end": xr.Variable("outage", when("end_utc"),
                                  attrs={"long_name": "back in service (may lie past the horizon)", "time_zone": "UTC"}),
    }
    data_vars = {
        "outage_energy_not_served_mwh": _var("outage", table.energy_not_served_mwh, "MWh",
                                             "consumption left without supply by the outage (in the horizon)", np.float64),
        "outage_production_lost_mwh": _var("outage", table.production_lost_mwh, "MWh",
                                           "MV generation lost to the outage (in the horizon)", np.float64),
        "wijk_energy_not_served_mwh": _var("wijk", np.zeros(n_wijk) if wijk_not_served_mwh is None else wijk_not_served_mwh,
                                           "MWh", "consumption left without supply by outages", np.float64),
    }
    return data_vars, coords


def horizon_dataset(
    *,
    wijk_codes: list[str],
    wijk_names: list[str],
    wijk_lon: list[float],
    wijk_lat: list[float],
    wijk_homes: list[int],
    trafo_table: pd.DataFrame,
    trafo_acc: LoadingAccumulator,
    line_table: pd.DataFrame,
    line_acc: LoadingAccumulator,
    bus_ids: list[str],
    bus_wijk: list[str],
    bus_vm_min_pu: np.ndarray,
    bus_vm_max_pu: np.ndarray,
    bus_violation_h: np.ndarray,
    e_mwh: np.ndarray,
    ev_report=None,
    ev_group_wijk: list[str] | None = None,
    start_utc: pd.Timestamp | None = None,
    heat_networks: pd.DataFrame | None = None,
    heat_by_source_mwh: pd.DataFrame | None = None,
    electricity_by_source_mwh: pd.DataFrame | None = None,
    batteries: pd.DataFrame | None = None,
    outages: pd.DataFrame | None = None,
    wijk_not_served_mwh: np.ndarray | None = None,
) -> xr.Dataset:
    """Results over the whole horizon: per-element metrics, per-bus extremes, events, energy, EV figures.

    ``ev_group_wijk`` gives the wijk of each report group of ``ev_report``
    (`energy_sim.events.wiring.EvWiring.group_wijk`).
    ``heat_networks`` (per network: ``wijk``, ``connected_dwellings`` and the
    ``*_mwh`` totals), ``heat_by_source_mwh`` and ``electricity_by_source_mwh``
    (network x source), and ``batteries`` (per battery) are the tables of
    `energy_sim.profiles.assets_in_runs.AssetsInRun.report`; absent or
    empty, their variables are left out. ``outages`` is
    `energy_sim.events.outages.OutageSchedule.table` (none when omitted).
    """
    tables = [trafo_acc.events().assign(kind="trafo"), line_acc.events().assign(kind="line")]
    tables = [t for t in tables if len(t)] or tables[:1]
    events = pd.concat(tables, ignore_index=True).sort_values(
        ["start_utc", "kind", "element"], kind="stable").reset_index(drop=True)
    outage_vars, outage_coords = _outage_variables(outages, wijk_not_served_mwh, len(wijk_codes))
    event_time = lambda column: pd.DatetimeIndex(events[column]).tz_convert("UTC").tz_localize(None).to_numpy() \
        if len(events) else np.array([], dtype="datetime64[ns]")
    data_vars = {
        "trafo_peak_loading_pct": _var("trafo", trafo_acc.peak_loading_pct, "%", "highest transformer loading"),
        "trafo_overload_h": _var("trafo", trafo_acc.overload_h, "h", "time above 100 % loading", np.float64),
        "trafo_energy_above_rating_mwh": _var("trafo", trafo_acc.energy_above_rating_mwh, "MWh",
                                              "energy transported above the rating", np.float64),
        "line_peak_loading_pct": _var("line", line_acc.peak_loading_pct, "%", "highest cable loading"),
        "line_overload_h": _var("line", line_acc.overload_h, "h", "time above 100 % loading", np.float64),
        "line_energy_above_rating_mwh": _var("line", line_acc.energy_above_rating_mwh, "MWh",
                                             "energy transported above the rating", np.float64),
        "bus_vm_min_pu": _var("bus", bus_vm_min_pu, "1", "lowest voltage over the horizon"),
        "bus_vm_max_pu": _var("bus", bus_vm_max_pu, "1", "highest voltage over the horizon"),
        "bus_voltage_violation_h": _var("bus", bus_violation_h, "h", "time outside the voltage band", np.float64),
        "wijk_e_mwh": _var(("wijk", "category"), e_mwh, "MWh",
                           "energy by category (consumption positive, generation negative)", np.float64),
        "event_element": xr.Variable("event", events.element.astype(str).to_numpy() if len(events) else np.array([], dtype=str)),
        "event_kind": xr.Variable("event", events.kind.astype(str).to_numpy() if len(events) else np.array([], dtype=str)),
        "event_start": xr.Variable("event", event_time("start_utc"), attrs={"long_name": "first overloaded step", "time_zone": "UTC"}),
        "event_end": xr.Variable("event", event_time("end_utc"), attrs={"long_name": "end of the last overloaded step", "time_zone": "UTC"}),
        "event_peak_loading_pct": _var("event", events.peak_loading_pct if len(events) else [], "%", "peak loading in the event"),
        "event_energy_above_rating_mwh": _var("event", events.energy_above_rating_mwh if len(events) else [], "MWh",
                                              "energy above the rating in the event", np.float64),
    }
    coords = {
        "wijk": xr.Variable("wijk", np.asarray(wijk_codes, dtype=str)),
        "wijk_name": xr.Variable("wijk", np.asarray(wijk_names, dtype=str)),
        "wijk_lon_deg": _var("wijk", wijk_lon, "degrees_east", "wijk centre longitude", np.float64),
        "wijk_lat_deg": _var("wijk", wijk_lat, "degrees_north", "wijk centre latitude", np.float64),
        "wijk_homes": _var("wijk", wijk_homes, "1", "homes simulated", np.int64),
        "category": xr.Variable("category", np.asarray(CATEGORIES, dtype=str)),
        **_element_coords("trafo", trafo_table),
        **_element_coords("line", line_table),
        "bus": xr.Variable("bus", np.asarray(bus_ids, dtype=str)),
        "bus_wijk": xr.Variable("bus", np.asarray(bus_wijk, dtype=str)),
        **outage_coords,
    }
    data_vars.update(outage_vars)
    if ev_report is not None:
        ev_vars = _ev_variables(ev_report, ev_group_wijk, wijk_codes, start_utc)
        coords["park"] = ev_vars.pop("park")
        data_vars.update(ev_vars)
    if heat_networks is not None and len(heat_networks):
        heat_vars = _heat_network_variables(heat_networks, heat_by_source_mwh, electricity_by_source_mwh)
        for name in ("heat_network", "heat_source", "heat_network_wijk", "heat_network_dwellings"):
            coords[name] = heat_vars.pop(name)
        data_vars.update(heat_vars)
    if batteries is not None and len(batteries):
        battery_vars = _battery_variables(batteries)
        for name in ("battery", "battery_wijk", "battery_level", "battery_dispatch"):
            coords[name] = battery_vars.pop(name)
        data_vars.update(battery_vars)
    return xr.Dataset(data_vars, coords)

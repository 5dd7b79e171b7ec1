"""Heat networks, batteries and outages in the CSV export and the HTML report: the Dataset's values, in full."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_sim.results.export import export_csv
from energy_sim.results.report import render_report


@pytest.fixture(scope="module")
def csv_dir(assets_ds, tmp_path_factory):
    folder = tmp_path_factory.mktemp("asset-csv")
    export_csv(assets_ds, folder)
    return folder


def read(folder, name):
    return pd.read_csv(folder / name, keep_default_na=False, float_precision="round_trip")


def test_heat_network_csv_carries_the_heat_balance(csv_dir, assets_ds):
    (row,) = read(csv_dir, "heat_networks.csv").to_dict(orient="records")
    assert row["heat_network"] == "warmtenet test" and row["wijk"] == "WK016405" and row["dwellings"] == 100
    sources = [str(s) for s in assets_ds.heat_source.values]
    heat = [row[f"heat_mwh_{s}"] for s in sources]
    np.testing.assert_array_equal(heat, assets_ds.heat_network_heat_mwh.values[0])
    # the balance by hand: heat from the sources = delivered + pipe and buffer losses + what the buffer gained
    assert sum(heat) == pytest.approx(row["demand_mwh"] + row["pipe_loss_mwh"] + row["buffer_loss_mwh"]
                                      + row["buffer_change_mwh"] - row["unserved_mwh"], rel=1e-9, abs=1e-9)
    assert row["electricity_mwh"] == assets_ds.heat_network_electricity_mwh.values[0]


def test_battery_csv_lists_every_battery_with_its_energies(csv_dir, assets_ds):
    batteries = read(csv_dir, "batteries.csv")
    assert batteries.battery.tolist() == ["buurtbatterij test", "netbatterij test"]
    assert batteries.level.tolist() == assets_ds.battery_level.values.tolist() == ["lv", "mv"]
    # as the scenario says: 200 kW / 400 kWh and 1000 kW / 2000 kWh
    np.testing.assert_array_equal(batteries.p_mw, [0.2, 1.0])
    np.testing.assert_array_equal(batteries.e_mwh, [0.4, 2.0])
    np.testing.assert_array_equal(batteries.charged_mwh, assets_ds.battery_charged_mwh.values)
    np.testing.assert_array_equal(batteries.soc_end_frac, assets_ds.battery_soc_end_frac.values)


def test_outage_csv_gives_the_window_in_utc_and_local_time(csv_dir, assets_ds):
    (row,) = read(csv_dir, "outages.csv").to_dict(orient="records")
    assert (row["name"], row["element"], row["kind"], row["origin"]) == (
        "onderhoud MSR01", "WK016405/MSR01", "mv_lv_transformer", "planned")
    # 08:00-12:00 in Amsterdam in January (UTC+1) is 07:00-11:00 UTC
    assert row["start_local"] == "2025-01-06T08:00:00+01:00" and row["start_utc"] == "2025-01-06T07:00:00+00:00"
    assert row["end_local"] == "2025-01-06T12:00:00+01:00"
    assert row["energy_not_served_mwh"] == assets_ds.outage_energy_not_served_mwh.values[0] > 0


def test_report_shows_heat_networks_batteries_and_outages(assets_ds):
    html = render_report(assets_ds)
    for table_id in ("heat-networks-table", "batteries-table", "outages-table"):
        assert f'id="{table_id}"' in html
    assert "warmtenet test" in html and "netbatterij test" in html and "onderhoud MSR01" in html
    assert "Mon 06 Jan 2025 08:00" in html and "Mon 06 Jan 2025 12:00" in html  # local time
    ens = float(assets_ds.outage_energy_not_served_mwh.sum())
    assert f"left {ens:,.3f} MWh of consumption without supply" in html


def test_a_run_without_them_has_no_asset_tables_and_says_there_were_no_outages(smoke_ds, tmp_path):
    html = render_report(smoke_ds)
    assert 'id="heat-and-batteries"' not in html
    assert 'id="outages-none"' in html
    written = {p.name for p in export_csv(smoke_ds, tmp_path)}
    assert "heat_networks.csv" not in written and "batteries.csv" not in written

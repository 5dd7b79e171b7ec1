"""ResultsWriter: blocks buffered and written a week at a time, joined back exactly, kept on failure."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from energy_sim.results.store import BLOCKS_DIR, ResultsWriter, open_results

STEPS_PER_DAY = 4


def _day(index: int) -> xr.Dataset:
    """A block of 4 steps with a (time, trafo) series whose values encode day, step and trafo."""
    time = pd.date_range("2025-01-01", periods=STEPS_PER_DAY, freq="6h") + pd.Timedelta(days=index)
    values = np.array([[100 * index + 10 * t + k for k in range(3)] for t in range(STEPS_PER_DAY)], np.float32)
    return xr.Dataset(
        {"trafo_loading_pct": (("time", "trafo"), values), "trafo_sn_mva": ("trafo", [0.4, 0.63, 0.63])},
        coords={"time": time.to_numpy(), "trafo": ["a", "b", "c"]},
    )


def _block_files(run_dir):
    return sorted(p.name for p in (run_dir / BLOCKS_DIR).glob("block-*.nc"))


def test_blocks_are_written_together_once_flush_steps_are_buffered(tmp_path):
    writer = ResultsWriter(tmp_path / "run", {"seed": 1}, flush_steps=3 * STEPS_PER_DAY)
    for day in range(2):
        writer.write_block(day, _day(day))
    assert _block_files(tmp_path / "run") == []  # two days buffered, nothing on disk yet
    writer.write_block(2, _day(2))
    assert _block_files(tmp_path / "run") == ["block-00000.nc"]  # days 0-2 in one file
    writer.write_block(3, _day(3))
    writer.write_block(4, _day(4))
    assert _block_files(tmp_path / "run") == ["block-00000.nc"]


def test_the_joined_series_equal_the_blocks_in_order(tmp_path):
    writer = ResultsWriter(tmp_path / "run", {"seed": 1}, flush_steps=2 * STEPS_PER_DAY)
    for day in range(5):
        writer.write_block(day, _day(day))
    path = writer.finish(xr.Dataset({"total_mwh": ((), 1.5)}), {"notes": ""})
    ds = open_results(path)
    assert ds.sizes["time"] == 5 * STEPS_PER_DAY
    # value = 100 * day + 10 * step + trafo, by construction of _day
    day, step, trafo = 3, 2, 1
    assert ds.trafo_loading_pct.isel(time=day * STEPS_PER_DAY + step, trafo=trafo).item() == 100 * 3 + 10 * 2 + 1
    assert pd.Index(ds.time.values).is_monotonic_increasing
    assert ds.trafo_sn_mva.values.tolist() == pytest.approx([0.4, 0.63, 0.63])
    assert ds.total_mwh.item() == 1.5 and ds.attrs["status"] == "complete"
    assert not (tmp_path / "run" / BLOCKS_DIR).exists()


def test_a_failure_writes_the_buffered_blocks_before_recording_it(tmp_path):
    writer = ResultsWriter(tmp_path / "run", {"seed": 1}, flush_steps=7 * STEPS_PER_DAY)
    for day in range(3):
        writer.write_block(day, _day(day))
    writer.fail("MemoryError: in block 4")
    partial = open_results(tmp_path / "run")
    assert partial.attrs["status"] == "partial"
    assert partial.sizes["time"] == 3 * STEPS_PER_DAY
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert status["status"] == "failed" and status["blocks_written"] == 3

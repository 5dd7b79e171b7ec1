"""Write results while a run progresses; read them back.

Layout of a run folder ``<outputs.directory>/<scenario name>/``::

    run.json          status (running, complete, failed), scenario hash, seed, version, error
    blocks/           one NetCDF file per control block, written as the run goes
    results.nc        the whole run: block series joined along time + horizon-wide results

A run that stops half-way (an error, Ctrl-C, a killed process) keeps every
block it finished; `open_results` opens such a run as a partial Dataset
(``attrs["status"] == "partial"``).  ``results.nc`` is written to a temporary
name and renamed, so it is either complete or absent.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

RESULTS_FILE = "results.nc"
STATUS_FILE = "run.json"
BLOCKS_DIR = "blocks"


class ResultsWriter:
    """Streams block results to disk and assembles the final file.

    Parameters
    ----------
    run_dir : Path
        The run folder; created if needed.  Results of an earlier run of the
        same scenario are replaced only when this run completes.
    attrs : dict
        Global attributes (scenario name, hash, seed, version ...).
    """

    def __init__(self, run_dir: Path, attrs: dict[str, Any]):
        self.run_dir = Path(run_dir)
        self.blocks_dir = self.run_dir / BLOCKS_DIR
        self.attrs = dict(attrs)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.blocks_dir.exists():
            shutil.rmtree(self.blocks_dir)
        self.blocks_dir.mkdir()
        self._block_files: list[Path] = []
        self._status("running")

    def write_block(self, index: int, block: xr.Dataset) -> Path:
        """Write one block's time series to ``blocks/block-NNNNN.nc``."""
        path = self.blocks_dir / f"block-{index:05d}.nc"
        block = block.assign_attrs(self.attrs)
        block.to_netcdf(path, engine="netcdf4", encoding=_encoding(block))
        self._block_files.append(path)
        return path

    def finish(self, horizon_wide: xr.Dataset, extra_attrs: dict[str, Any]) -> Path:
        """Join the blocks, add the horizon-wide results, write ``results.nc``."""
        series = _join_blocks(self._block_files)
        dataset = xr.merge([series, horizon_wide], compat="override", join="outer", combine_attrs="override")
        dataset.attrs = {**self.attrs, **extra_attrs, "status": "complete"}
        final = self.run_dir / RESULTS_FILE
        partial = self.run_dir / f".{RESULTS_FILE}.partial"
        dataset.to_netcdf(partial, engine="netcdf4", encoding=_encoding(dataset))
        os.replace(partial, final)
        shutil.rmtree(self.blocks_dir)
        self._status("complete", results=RESULTS_FILE)
        return final

    def fail(self, message: str) -> None:
        """Record why the run stopped; the finished blocks stay on disk."""
        self._status("failed", error=message, blocks_written=len(self._block_files))

    def _status(self, status: str, **extra: Any) -> None:
        record = {"status": status, **{k: _jsonable(v) for k, v in self.attrs.items()}, **extra}
        tmp = self.run_dir / f".{STATUS_FILE}.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, self.run_dir / STATUS_FILE)


def open_results(path: str | Path) -> xr.Dataset:
    """Open the results of a run: a run folder or a ``results.nc`` file.

    A run that did not complete is opened from its blocks, with
    ``attrs["status"] = "partial"``.

    Raises
    ------
    FileNotFoundError
        When `path` holds no results, with what was looked for.
    """
    path = Path(path)
    if path.is_file():
        with xr.open_dataset(path, engine="netcdf4") as dataset:
            return dataset.load()
    final = path / RESULTS_FILE
    if final.is_file():
        return open_results(final)
    blocks = sorted((path / BLOCKS_DIR).glob("block-*.nc"))
    if blocks:
        dataset = _join_blocks(blocks)
        status = path / STATUS_FILE
        if status.is_file():
            dataset.attrs.update({k: v for k, v in json.loads(status.read_text()).items() if v is not None})
        dataset.attrs["status"] = "partial"
        return dataset
    raise FileNotFoundError(f"no results in {path} (looked for {final} and {path / BLOCKS_DIR}/block-*.nc)")


def _join_blocks(files: list[Path]) -> xr.Dataset:
    parts = []
    for file in files:
        with xr.open_dataset(file, engine="netcdf4") as block:
            parts.append(block.load())
    if not parts:
        return xr.Dataset()
    joined = xr.concat(parts, dim="time", data_vars="minimal", coords="minimal", compat="override",
                       combine_attrs="override")
    return joined


def _encoding(dataset: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Fixed encodings so that identical data gives identical files."""
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in {**dataset.data_vars, **dataset.coords}.items():
        if np.issubdtype(var.dtype, np.datetime64):
            encoding[name] = {"units": "seconds since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                              "dtype": "int64"}
        elif np.issubdtype(var.dtype, np.floating):
            encoding[name] = {"zlib": True, "complevel": 1, "_FillValue": np.nan}
    return encoding


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value

"""The electric-car mix (``models/ev_fleet.yaml``) and draws from it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np
from ruamel.yaml import YAML

__all__ = ["VehicleClass", "Fleet", "load_ev_fleet"]


@dataclass(frozen=True)
class VehicleClass:
    """One class of the vehicle mix.

    Attributes
    ----------
    key : str
        Catalogue name.
    battery_kwh : float
        Usable battery capacity [kWh].
    on_board_ac_kw : float
        On-board AC charger limit [kW].
    share_frac : float
        Share of the fleet [-].
    source : str
        Where the figures come from.
    """

    key: str
    battery_kwh: float
    on_board_ac_kw: float
    share_frac: float
    source: str = ""


@dataclass(frozen=True)
class Fleet:
    """A vehicle mix with vectorised draws."""

    classes: tuple[VehicleClass, ...]

    def __post_init__(self) -> None:
        total = sum(c.share_frac for c in self.classes)
        if not self.classes or abs(total - 1.0) > 1e-6:
            raise ValueError(f"EV fleet shares must sum to 1 (got {total:.6f}); fix share_frac in models/ev_fleet.yaml")
        for c in self.classes:
            if c.battery_kwh <= 0 or c.on_board_ac_kw <= 0 or c.share_frac < 0:
                raise ValueError(f"EV class {c.key!r} needs battery_kwh > 0, on_board_ac_kw > 0 and share_frac >= 0 "
                                 f"(got {c.battery_kwh}, {c.on_board_ac_kw}, {c.share_frac})")

    @property
    def battery_kwh(self) -> np.ndarray:
        return np.array([c.battery_kwh for c in self.classes])

    @property
    def on_board_ac_kw(self) -> np.ndarray:
        return np.array([c.on_board_ac_kw for c in self.classes])

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` vehicles.

        Returns
        -------
        battery_kwh, on_board_ac_kw : ndarray [n]
            Usable battery [kWh] and on-board charger limit [kW] per vehicle.
        """
        share = np.array([c.share_frac for c in self.classes])
        k = rng.choice(len(self.classes), size=n, p=share / share.sum())
        return self.battery_kwh[k], self.on_board_ac_kw[k]


@cache
def _fleet(name: str) -> Fleet:
    raw = YAML(typ="safe").load((files("energy_sim.models") / name).read_text(encoding="utf-8"))
    return Fleet(tuple(
        VehicleClass(str(key), float(e["battery_kwh"]), float(e["on_board_ac_kw"]), float(e["share_frac"]),
                     str(e.get("source", "")))
        for key, e in raw.items()
    ))


def load_ev_fleet(name: str = "ev_fleet.yaml") -> Fleet:
    """The vehicle mix of ``models/<name>`` (parsed once, cached)."""
    return _fleet(name)

"""A small generated city shared by the grid tests (not a test module)."""

import numpy as np
import pandas as pd

from energy_sim.grid.build import ConnectionKind as K
from energy_sim.grid.build import LvConnection, WijkSpec, build_city_grid


def small_city(mv_connections):
    """Two small wijken (3 LV grids on one 10 kV ring) with two public chargers and the given MV
    connections, and per wijk the household and extra LV connection ids in column order."""
    wijken = (WijkSpec("WK016400", "Binnenstad", 330, 6.7952, 52.2637),
              WijkSpec("WK016405", "Berflo Es", 160, 6.8006, 52.2530))
    lv = (LvConnection("pub/1", K.ev_charger, "WK016400", p_kw=11.0),
          LvConnection("pub/2", K.ev_charger, "WK016405", p_kw=11.0))
    grid = build_city_grid(wijken, rng=np.random.default_rng(7), lv_connections=lv, mv_connections=mv_connections)
    home_ids, extra_ids = {}, {}
    for code, grids in grid.lv_grids.items():
        conns = pd.concat([g.connections for g in grids], ignore_index=True)
        home_ids[code] = conns.connection_id[conns.kind == "household"].tolist()
        extra_ids[code] = conns.connection_id[(conns.element == "load") & (conns.kind != "household")].tolist()
    return grid, home_ids, extra_ids

"""Public, workplace and fast charge points as shared simpy resources, with queues.

Each charger park is a `simpy.Store` holding the indices of its free charge
points (a Store rather than a plain `simpy.Resource` because the power array
needs to know *which* point a car uses; queueing is the same, first come
first served). A driver arriving at a full park waits up to a patience for a
point to free up, else leaves without charging (counted as balked). A car
holds its point for its whole connection time, whether it is still charging
or not, which is what makes public points scarce.

Arrivals are drawn per local day (Poisson number, times from the profile's
arrival mixture, `energy_sim.events.sessions`); the processes read like the
story: ``park_arrivals`` brings cars to the parks of one kind, each car
``arrive``s and plugs in or queues as a ``waiting_driver``, and leaves after
its connection time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from energy_sim.events.fleet import Fleet
from energy_sim.events.sessions import (
    DC_MEAN_C_RATE_PER_H,
    PUBLIC,
    SessionProfile,
    Sessions,
    draw_session_parameters,
    HOUR_S,
    draw_time_of_day_s,
)

__all__ = ["ChargerPark", "QueueStats", "arrive", "waiting_driver", "park_arrivals", "DEFAULT_PATIENCE_S"]

#: How long a driver waits for a free public point before leaving [s].
#: ASSUMPTION: 15 minutes; no Dutch measurement of queueing patience at AC
#: points is known to us, and a full AC park usually means driving on.
DEFAULT_PATIENCE_S = 900.0


@dataclass
class QueueStats:
    """Queue outcome of one park.

    Attributes
    ----------
    arrived, served, balked : int
        Cars that came, that got a point, that left without charging [-].
    wait_served_s : list of float
        Waiting time of each served car [s].
    """

    arrived: int = 0
    served: int = 0
    balked: int = 0
    wait_served_s: list[float] = field(default_factory=list)

    @property
    def mean_wait_s(self) -> float:
        return float(np.mean(self.wait_served_s)) if self.wait_served_s else 0.0


class ChargerPark:
    """A park of identical charge points with a first-come-first-served queue.

    Parameters
    ----------
    env : simpy.Environment
    name : str
    first_column : int
        Column of its first point in the public power array; points are
        ``first_column .. first_column + n_point - 1``.
    n_point : int
        Charge points [-].
    p_kw : float
        Power per point [kW].
    patience_s : float
        Longest wait before a driver leaves [s].
    dc : bool
        DC fast charging: a car draws ``min(p_kw, DC_MEAN_C_RATE_PER_H *
        battery)`` on average instead of its on-board AC charger's limit.
    """

    def __init__(self, env: simpy.Environment, name: str, first_column: int, n_point: int, p_kw: float,
                 patience_s: float = DEFAULT_PATIENCE_S, dc: bool = False):
        self.env = env
        self.name = name
        self.p_kw = float(p_kw)
        self.patience_s = float(patience_s)
        self.dc = dc
        self.points = simpy.Store(env, capacity=n_point)
        self.points.items.extend(range(first_column, first_column + n_point))
        self.stats = QueueStats()
        self.started: list[tuple[int, float, float, float, float]] = []  # column, plug-in, departure, e, p

    def plug_in(self, column: int, arrived_s: float, duration_s: float, e_wish_kwh: float, battery_kwh: float,
                on_board_ac_kw: float) -> None:
        """A car takes point ``column`` now and holds it for ``duration_s``; its departure frees the point."""
        now = self.env.now
        self.stats.served += 1
        self.stats.wait_served_s.append(now - arrived_s)
        p_kw = min(self.p_kw, DC_MEAN_C_RATE_PER_H * battery_kwh if self.dc else on_board_ac_kw)
        e_kwh = min(e_wish_kwh, battery_kwh, p_kw * duration_s / HOUR_S)  # = requested_energy_kwh, for scalars
        self.started.append((column, now, now + duration_s, e_kwh, p_kw))
        self.env.timeout(duration_s, value=column).callbacks.append(self._leave)

    def _leave(self, departure: simpy.Event) -> None:
        self.points.put(departure.value)  # never blocks: the store has room for every point

    def take_started(self) -> Sessions:
        """Sessions that started since the last call (and forget them)."""
        rows, self.started = self.started, []
        if not rows:
            return Sessions()
        col, t_in, t_out, e, p = (np.array(x) for x in zip(*rows))
        return Sessions(col.astype(np.int64), t_in, t_out, e, p)


def arrive(env: simpy.Environment, park: ChargerPark, duration_s: float, e_wish_kwh: float, battery_kwh: float,
           on_board_ac_kw: float) -> None:
    """A car reaches the park: it plugs in at a free point, or joins the queue as a `waiting_driver`.

    The common case (a free point) needs no process of its own, which halves
    the simpy events per session.
    """
    park.stats.arrived += 1
    get = park.points.get()
    if get.triggered:
        park.plug_in(get.value, env.now, duration_s, e_wish_kwh, battery_kwh, on_board_ac_kw)
    else:
        env.process(waiting_driver(env, park, get, duration_s, e_wish_kwh, battery_kwh, on_board_ac_kw))


def waiting_driver(env: simpy.Environment, park: ChargerPark, get: simpy.Event, duration_s: float, e_wish_kwh: float,
                   battery_kwh: float, on_board_ac_kw: float):
    """A car at a full park: wait for a point up to the park's patience, else leave without charging."""
    arrived_s = env.now
    yield get | env.timeout(park.patience_s)
    if not get.triggered:
        get.cancel()
        park.stats.balked += 1
        return
    park.plug_in(get.value, arrived_s, duration_s, e_wish_kwh, battery_kwh, on_board_ac_kw)


def park_arrivals(env: simpy.Environment, parks: Sequence[ChargerPark], day_start_s: np.ndarray,
                  rng: np.random.Generator, fleet: Fleet, profile: SessionProfile = PUBLIC,
                  day_factor: np.ndarray | None = None):
    """Bring cars to parks of one kind, day by day, and start `arrive` for each car.

    Per local day and park the number of cars is Poisson with mean
    ``profile.sessions_per_day`` times its points (times ``day_factor`` of
    the day, e.g. fewer workplace sessions at weekends); arrival times,
    connection times, wished energy and vehicles are drawn for all parks of
    the day at once (one vectorised draw per day, not per car).
    """
    n_point = np.array([len(p.points.items) for p in parks])
    factor = np.ones(len(day_start_s)) if day_factor is None else np.asarray(day_factor, dtype=float)
    for day0, f in zip(day_start_s, factor):
        if day0 > env.now:
            yield env.timeout(day0 - env.now)
        n = rng.poisson(profile.sessions_per_day * f * n_point)
        which = np.repeat(np.arange(len(parks)), n)
        t_s = day0 + draw_time_of_day_s(profile.arrival, len(which), rng)
        duration_s, e_wish_kwh = draw_session_parameters(profile, len(which), rng)
        battery_kwh, ac_kw = fleet.draw(len(which), rng)
        order = np.argsort(t_s, kind="stable")
        rows = zip(t_s[order].tolist(), which[order].tolist(), duration_s[order].tolist(),
                   e_wish_kwh[order].tolist(), battery_kwh[order].tolist(), ac_kw[order].tolist())
        for t, k, duration, e_wish, battery, ac in rows:
            if t < env.now:  # the part of a local day before the scenario start
                continue
            if t > env.now:
                yield env.timeout(t - env.now)
            arrive(env, parks[k], duration, e_wish, battery, ac)

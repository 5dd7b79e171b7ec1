"""Charging sessions drawn from Dutch (ElaadNL-derived) distributions.

A session is an EV connected to one charge point: plug-in time, departure
time, energy wanted and the largest power it can draw. Home sessions and
bus-depot sessions have no shared resource and are drawn vectorised, one
local day at a time; public, workplace and fast-charging sessions go through
the charger queues of `energy_sim.events.public`, which draw their arrivals
with the same functions.

Time is in seconds since the scenario start (``*_s``); times of day are
local (Europe/Amsterdam) and measured from each local midnight, which the
caller gives as ``day_start_s``.

Sources of the default figures (``../shared/reference/hengelo.md``,
"Behaviour and profiles", ElaadNL-derived): home arrivals peak at 18:15 and
stay connected ~11-12 h; public arrivals peak at 09:00 and 18:15, median
connection ~4 h and median ~7 kWh; workplace arrivals peak at 08:45; about
one third of (public) sessions start between 17 and 21 h. Spreads, weights
and session rates that the reference does not give are marked ASSUMPTION.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

__all__ = [
    "SessionKind",
    "ArrivalMixture",
    "SessionProfile",
    "Sessions",
    "HOME",
    "PUBLIC",
    "WORKPLACE",
    "FAST",
    "PROFILES",
    "DC_MEAN_C_RATE_PER_H",
    "DepotTimetable",
    "draw_depot_day",
    "draw_time_of_day_s",
    "draw_session_parameters",
    "draw_home_day",
    "requested_energy_kwh",
]

DAY_S = 86_400.0
HOUR_S = 3_600.0


class SessionKind(StrEnum):
    home = "home"
    public = "public"
    workplace = "workplace"
    fast = "fast"
    bus_depot = "bus_depot"


@dataclass(frozen=True)
class ArrivalMixture:
    """Arrival time of day as a mixture of normals wrapped onto 0-24 h.

    Attributes
    ----------
    weight_frac : tuple of float
        Weight of each component [-], summing to 1.
    mean_h, sd_h : tuple of float
        Mean and standard deviation of each component [h, local time].
    """

    weight_frac: tuple[float, ...]
    mean_h: tuple[float, ...]
    sd_h: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.weight_frac) == len(self.mean_h) == len(self.sd_h)) or abs(sum(self.weight_frac) - 1) > 1e-9:
            raise ValueError(f"arrival mixture needs equally long weight_frac/mean_h/sd_h with weights summing to 1 "
                             f"(got {self.weight_frac}, {self.mean_h}, {self.sd_h})")


@dataclass(frozen=True)
class SessionProfile:
    """Distributions of one kind of session.

    Attributes
    ----------
    kind : SessionKind
    arrival : ArrivalMixture
        Plug-in time of day.
    duration_median_h, duration_sigma : float
        Lognormal connection time from plug-in to departure: median [h] and
        sigma of the log [-].
    energy_median_kwh, energy_sigma : float
        Lognormal energy the driver wants: median [kWh], sigma of the log [-].
    sessions_per_day : float
        Home: probability that an EV plugs in on a given day [-].
        Public/workplace: sessions per charge point per day [1/d] (arrival rate).
    """

    kind: SessionKind
    arrival: ArrivalMixture
    duration_median_h: float
    duration_sigma: float
    energy_median_kwh: float
    energy_sigma: float
    sessions_per_day: float


#: Home charging. Arrival: 75 % evening component peaking at 18:15 (hengelo.md)
#: with sd 2 h, 25 % broad daytime component (13 h, sd 4 h) for part-time and
#: weekend use (ASSUMPTION, the shape of ElaadNL's published home-charging
#: profile). Connection: median 11.5 h (hengelo.md "connected ~11-12 h"),
#: sigma 0.3 (ASSUMPTION). Energy: an average Dutch car drives ~12,000 km/yr
#: (CBS, "Verkeersprestaties personenauto's" 2022) at ~0.18 kWh/km from the
#: grid (EV Database real-range averages incl. charging losses), ~2,200 kWh/yr;
#: with 55 % of days plugged in at a median 9 kWh (sigma 0.6, mean ~10.8 kWh)
#: a home EV takes ~2,150 kWh/yr at home (ASSUMPTION: the home charger covers
#: nearly all of it).
HOME = SessionProfile(
    kind=SessionKind.home,
    arrival=ArrivalMixture((0.75, 0.25), (18.25, 13.0), (2.0, 4.0)),
    duration_median_h=11.5, duration_sigma=0.3,
    energy_median_kwh=9.0, energy_sigma=0.6,
    sessions_per_day=0.55,
)

#: Public charge points. Arrival peaks at 09:00 and 18:15 (hengelo.md); weights
#: 40 % morning (sd 1.5 h), 45 % evening (sd 2 h), 15 % midday (13:30, sd 3 h)
#: are an ASSUMPTION chosen so that ~1/3 of sessions start 17-21 h (hengelo.md;
#: 0.45 * 0.65 + 0.15 * 0.12 = 0.31 analytically). Median connection 4 h and
#: median 7 kWh (hengelo.md); log sigmas 0.8 and 0.7 (ASSUMPTION, the wide
#: spread of ElaadNL open session data). 1.5 sessions per charge point per
#: day (ASSUMPTION; ElaadNL reports roughly 1-2 for busy Dutch public points).
PUBLIC = SessionProfile(
    kind=SessionKind.public,
    arrival=ArrivalMixture((0.40, 0.45, 0.15), (9.0, 18.25, 13.5), (1.5, 2.0, 3.0)),
    duration_median_h=4.0, duration_sigma=0.8,
    energy_median_kwh=7.0, energy_sigma=0.7,
    sessions_per_day=1.5,
)

#: Workplace charge points. Arrival peak 08:45 (hengelo.md), sd 1 h; connected
#: a working day, median 8 h, sigma 0.25; median 10 kWh, sigma 0.6; one
#: session per point per day (all ASSUMPTION except the peak time).
WORKPLACE = SessionProfile(
    kind=SessionKind.workplace,
    arrival=ArrivalMixture((1.0,), (8.75,), (1.0,)),
    duration_median_h=8.0, duration_sigma=0.25,
    energy_median_kwh=10.0, energy_sigma=0.6,
    sessions_per_day=1.0,
)

#: Fast (DC) charging plazas along motorways and in town (e.g. at the A1/A35).
#: Arrivals spread over the day with peaks late morning, early afternoon and
#: the evening commute: 25 % at 10:00 (sd 2 h), 35 % at 13:30 (sd 2.5 h), 40 %
#: at 17:30 (sd 2 h); median connection 30 min (sigma 0.35), median 25 kWh
#: (sigma 0.45) - a 10-80 % top-up of a 40-77 kWh car is 28-54 kWh, and many
#: stops are shorter; 6 sessions per point per day. All ASSUMPTION (no fast
#: charging figures in hengelo.md; the shape follows the daytime travel
#: pattern of Dutch motorway traffic, the rate a busy but not saturated plaza).
FAST = SessionProfile(
    kind=SessionKind.fast,
    arrival=ArrivalMixture((0.25, 0.35, 0.40), (10.0, 13.5, 17.5), (2.0, 2.5, 2.0)),
    duration_median_h=0.5, duration_sigma=0.35,
    energy_median_kwh=25.0, energy_sigma=0.45,
    sessions_per_day=6.0,
)

PROFILES = {SessionKind.home: HOME, SessionKind.public: PUBLIC, SessionKind.workplace: WORKPLACE,
            SessionKind.fast: FAST}

#: Mean DC charging power over a fast session as a multiple of the car's usable
#: battery [kW per kWh]. ASSUMPTION: current cars charge 10-80 % (0.7 of the
#: battery) in ~25-35 min (EV Database "fastcharge 10-80 %" times), i.e. about
#: 1.2 C on average; the point's own power caps it.
DC_MEAN_C_RATE_PER_H = 1.2


@dataclass(frozen=True)
class DepotTimetable:
    """The daily service of an electric bus fleet that charges overnight at its depot.

    Each bus returns in the evening, charges on its own depot charger and
    leaves the next morning with the energy for the next day's service.
    Defaults (all ASSUMPTION, typical of Dutch city-bus concessions with 12 m
    battery buses): back at 22:30 (sd 45 min), out at 05:30 (sd 20 min),
    230 km a day (sd 35 km) at 1.2 kWh/km (12 m battery buses use roughly
    1.0-1.4 kWh/km including heating), 400 kWh usable battery.

    Attributes
    ----------
    arrival_mean_h, arrival_sd_h : float
        Return to the depot [h, local time of the service day].
    departure_mean_h, departure_sd_h : float
        Departure [h, local time of the next day].
    km_per_day_mean, km_per_day_sd : float
        Distance driven per bus per day [km].
    kwh_per_km : float
        Energy from the charger per km [kWh/km].
    battery_kwh : float
        Usable battery per bus [kWh].
    """

    arrival_mean_h: float = 22.5
    arrival_sd_h: float = 0.75
    departure_mean_h: float = 5.5
    departure_sd_h: float = 1.0 / 3.0
    km_per_day_mean: float = 230.0
    km_per_day_sd: float = 35.0
    kwh_per_km: float = 1.2
    battery_kwh: float = 400.0


@dataclass
class Sessions:
    """A batch of sessions as parallel arrays (one entry per session).

    Attributes
    ----------
    column : ndarray of int
        Column of the charge point (home EV index, or public point index).
    arrival_s, departure_s : ndarray of float
        Plug-in and departure [s since scenario start].
    e_request_kwh : ndarray of float
        Energy wanted, already limited by battery and dwell time [kWh].
    p_max_kw : ndarray of float
        Largest charging power: min(charge point, on-board charger) [kW].
    """

    column: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    arrival_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    departure_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    e_request_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_max_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.column)

    @staticmethod
    def concat(parts: list["Sessions"]) -> "Sessions":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Sessions()
        return Sessions(*(np.concatenate([getattr(p, name) for p in parts])
                          for name in ("column", "arrival_s", "departure_s", "e_request_kwh", "p_max_kw")))


def draw_time_of_day_s(mixture: ArrivalMixture, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` arrival times of day [s after local midnight], in [0, 86400)."""
    k = rng.choice(len(mixture.weight_frac), size=n, p=np.asarray(mixture.weight_frac))
    t_h = rng.normal(np.asarray(mixture.mean_h)[k], np.asarray(mixture.sd_h)[k])
    return np.mod(t_h * HOUR_S, DAY_S)


def requested_energy_kwh(e_wish_kwh, battery_kwh, p_max_kw, duration_s) -> np.ndarray:
    """Energy a session asks for: the wish, limited by the battery and by what fits in the dwell time [kWh]."""
    return np.minimum(np.minimum(e_wish_kwh, battery_kwh), np.asarray(p_max_kw) * np.asarray(duration_s) / HOUR_S)


def draw_session_parameters(profile: SessionProfile, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw connection time [s] and wished energy [kWh] of ``n`` sessions (lognormal, see `SessionProfile`)."""
    duration_s = profile.duration_median_h * HOUR_S * np.exp(profile.duration_sigma * rng.standard_normal(n))
    e_wish_kwh = profile.energy_median_kwh * np.exp(profile.energy_sigma * rng.standard_normal(n))
    return duration_s, e_wish_kwh


def draw_home_day(
    day_start_s: float,
    busy_until_s: np.ndarray,
    battery_kwh: np.ndarray,
    p_max_kw: np.ndarray,
    rng: np.random.Generator,
    profile: SessionProfile = HOME,
) -> Sessions:
    """Home sessions of one local day for every home EV at once.

    Each EV plugs in with probability ``profile.sessions_per_day`` at a time
    drawn from the arrival mixture; an EV still connected from an earlier
    session at that moment (``busy_until_s``) does not start a new one.

    Parameters
    ----------
    day_start_s : float
        Local midnight of the day [s since scenario start].
    busy_until_s : ndarray [n_ev]
        Departure of each EV's latest session [s]; updated in place.
    battery_kwh, p_max_kw : ndarray [n_ev]
        Usable battery [kWh] and charging power limit [kW] per EV.
    rng : numpy.random.Generator
    profile : SessionProfile

    Returns
    -------
    Sessions
        ``column`` is the EV index.
    """
    n = len(busy_until_s)
    # fixed number of draws per day whatever the outcome, so streams stay aligned
    plugs = rng.random(n) < profile.sessions_per_day
    arrival_s = day_start_s + draw_time_of_day_s(profile.arrival, n, rng)
    duration_s, e_wish_kwh = draw_session_parameters(profile, n, rng)
    take = plugs & (arrival_s >= busy_until_s)
    col = np.flatnonzero(take)
    departure_s = arrival_s[col] + duration_s[col]
    busy_until_s[col] = departure_s
    return Sessions(
        column=col.astype(np.int64),
        arrival_s=arrival_s[col],
        departure_s=departure_s,
        e_request_kwh=requested_energy_kwh(e_wish_kwh[col], battery_kwh[col], p_max_kw[col], duration_s[col]),
        p_max_kw=np.asarray(p_max_kw, dtype=float)[col],
    )


def draw_depot_day(day_start_s: float, n_bus: int, p_max_kw: float, rng: np.random.Generator,
                   timetable: DepotTimetable = DepotTimetable()) -> Sessions:
    """The overnight depot sessions of a bus fleet after the service of one local day.

    Bus ``i`` charges on depot charger ``i`` (column ``i``) from its return in
    the evening until its departure the next morning; it asks for the energy
    of the day driven, limited by its battery and by what the charger can give
    in the time (`requested_energy_kwh`).

    Parameters
    ----------
    day_start_s : float
        Local midnight of the service day [s since scenario start].
    n_bus : int
        Buses, one depot charger each [-].
    p_max_kw : float
        Depot charger power [kW].
    rng : numpy.random.Generator
    timetable : DepotTimetable
    """
    t = timetable
    arrival_s = day_start_s + rng.normal(t.arrival_mean_h, t.arrival_sd_h, n_bus) * HOUR_S
    departure_s = day_start_s + DAY_S + rng.normal(t.departure_mean_h, t.departure_sd_h, n_bus) * HOUR_S
    departure_s = np.maximum(departure_s, arrival_s + 0.25 * HOUR_S)
    km = np.maximum(rng.normal(t.km_per_day_mean, t.km_per_day_sd, n_bus), 0.0)
    p_kw = np.full(n_bus, float(p_max_kw))
    return Sessions(
        column=np.arange(n_bus, dtype=np.int64),
        arrival_s=arrival_s,
        departure_s=departure_s,
        e_request_kwh=requested_energy_kwh(km * t.kwh_per_km, t.battery_kwh, p_kw, departure_s - arrival_s),
        p_max_kw=p_kw,
    )

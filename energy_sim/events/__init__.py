"""Events layer (DESIGN.md): EV sessions, public-charger queues, outages, congestion manager.

Events decide state (simpy where resources are shared or actors interact;
vectorised draws where they are not), arrays carry power.
"""

from energy_sim.events.charging import BlockCharging, ChargingPolicy, ChargingState, effective_start_s
from energy_sim.events.congestion import CongestionManager, Intervention
from energy_sim.events.fleet import Fleet, VehicleClass, load_ev_fleet
from energy_sim.events.outages import MV_LV_TRANSFORMER, WIND_TURBINE, OutageModel, availability, simulate_outages
from energy_sim.events.public import ChargerPark, QueueStats
from energy_sim.events.sessions import FAST, HOME, PUBLIC, WORKPLACE, DepotTimetable, SessionKind, SessionProfile, Sessions
from energy_sim.events.simulation import DepotSpec, EvBlock, EvReport, EvSimulation, ParkSpec, local_day_starts_s

__all__ = [
    "BlockCharging", "ChargingPolicy", "ChargingState", "effective_start_s",
    "CongestionManager", "Intervention",
    "Fleet", "VehicleClass", "load_ev_fleet",
    "MV_LV_TRANSFORMER", "WIND_TURBINE", "OutageModel", "availability", "simulate_outages",
    "ChargerPark", "QueueStats",
    "FAST", "HOME", "PUBLIC", "WORKPLACE", "DepotTimetable", "SessionKind", "SessionProfile", "Sessions",
    "DepotSpec", "EvBlock", "EvReport", "EvSimulation", "ParkSpec", "local_day_starts_s",
]

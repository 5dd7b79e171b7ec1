"""Scenario files: load YAML, resolve `extends`, validate completely, hash."""

from energy_sim.scenario.problems import Problem, ScenarioError
from energy_sim.scenario.schema import Scenario
from energy_sim.scenario.validate import load_scenario, scenario_hash, validate_file

__all__ = ["Problem", "Scenario", "ScenarioError", "load_scenario", "scenario_hash", "validate_file"]

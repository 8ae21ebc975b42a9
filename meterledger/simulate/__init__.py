"""`meterledger simulate`: a billing scenario through the production pipeline (docs/scenarios.md)."""
from meterledger.simulate.output import render_table
from meterledger.simulate.run import Simulation, SimulationError, simulate
from meterledger.simulate.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

__all__ = ["Scenario", "ScenarioError", "Simulation", "SimulationError", "load_scenario", "parse_scenario",
           "render_table", "simulate"]

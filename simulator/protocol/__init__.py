"""The perp protocol from Python: parameters, presets, typed contract wrappers, deployment."""

from simulator.protocol.deploy import Venue, deploy_venue
from simulator.protocol.params import VenueParams, load_preset, preset_names

__all__ = ["Venue", "VenueParams", "deploy_venue", "load_preset", "preset_names"]

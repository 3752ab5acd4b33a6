"""The perp protocol from Python: parameters, presets, typed contract wrappers, deployment
(:func:`~simulator.protocol.venue_deploy.deploy_multi_venue`)."""

from simulator.protocol.params import VenueParams, load_preset, preset_names

__all__ = ["VenueParams", "load_preset", "preset_names"]

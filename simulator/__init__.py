"""perpsim simulator package."""

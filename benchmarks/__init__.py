"""perpsim's performance suite; ``perpsim bench <name>`` runs one benchmark by name."""

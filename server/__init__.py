"""The anonballot reference server (installed as anonballot.server)."""

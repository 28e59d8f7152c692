"""The anonballot command line (installed as anonballot.cli)."""

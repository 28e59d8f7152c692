"""anonballot: anonymous, verifiable e-ballots."""

"""``python -m anonballot.cli``: the same as the ``anonballot`` command."""

from .main import main

main()

"""The anonballot command line (installed as anonballot.cli, with the ``cli`` extra)."""

import importlib.util
import sys

# The library installs without the command line's packages; the command says which extra
# to install in one line rather than with a traceback.
_NEEDED = {"click": "click", "rich": "rich", "httpx": "httpx", "yaml": "pyyaml"}
_missing = [package for module, package in _NEEDED.items() if not importlib.util.find_spec(module)]
if _missing:
    sys.stderr.write(
        f"error: the anonballot command needs {', '.join(_missing)}: "
        "pip install 'anonballot[cli]'\n"
    )
    raise SystemExit(2)

"""Enable the lbconformance pytest plugin for in-repo runs (when it is not installed)."""
import sys
from importlib.metadata import entry_points
from pathlib import Path

if "lbconformance" not in {ep.name for ep in entry_points(group="pytest11")}:
    sys.path.insert(0, str(Path(__file__).parent / "src"))
    pytest_plugins = ["lbconformance.plugin"]

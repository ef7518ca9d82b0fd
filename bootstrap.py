"""Set up and run the workshop from a fresh clone, with nothing but Python 3.11+ and pip.

    python3 bootstrap.py lab     # JupyterLab on the notebooks, local backend
    python3 bootstrap.py test    # the whole test suite: lint, unit tests, every notebook

It creates ``.venv`` beside this file on first use (and refreshes it when pyproject.toml
changes), installs the workshop into it, then runs the command inside it. It works the same on
Linux, macOS and Windows. Conda users can skip it: see environment.yml.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".workshop-installed"


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def ensure_environment() -> Path:
    """The virtual environment's Python, with the workshop and its test tools installed."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file may be run by an older Python)
        sys.exit(f"The workshop needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = venv_python()
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return python
    if not python.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(
        "Installing the workshop and its dependencies (a few minutes the first time) ...",
        flush=True,
    )
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "--quiet", "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    commands = {
        "lab": ["-m", "workshop", "lab"],
        "test": ["-m", "pytest"],
        "lint": ["-m", "ruff", "check", "."],
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    python = str(ensure_environment())
    os.chdir(ROOT)
    extra = argv[1:]
    if argv[0] == "test":
        # Lint first: it takes a second and fails with a clearer message than a test would.
        lint = subprocess.run([python, *commands["lint"]])
        if lint.returncode:
            return lint.returncode
    try:
        return subprocess.run([python, *commands[argv[0]], *extra]).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

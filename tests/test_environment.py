"""environment.yml (conda) and pyproject.toml (pip) must declare the same dependencies."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
CONDA_ONLY = {"python", "pip"}


def _key(requirement: Requirement) -> tuple[str, str, frozenset[str], str]:
    return (
        requirement.name.lower(),
        str(requirement.specifier),
        frozenset(requirement.extras),
        str(requirement.marker or ""),
    )


def pip_requirements() -> set[tuple]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    return {_key(Requirement(line)) for line in lines}


def conda_requirements() -> set[tuple]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = set()
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            found |= {_key(Requirement(line)) for line in entry["pip"] if not line.startswith("-e")}
        elif Requirement(entry).name not in CONDA_ONLY:
            found.add(_key(Requirement(entry)))
    return found


def test_environment_yml_matches_pyproject():
    pip, conda = pip_requirements(), conda_requirements()
    assert not pip - conda, f"in pyproject.toml but not environment.yml: {sorted(pip - conda)}"
    assert not conda - pip, f"in environment.yml but not pyproject.toml: {sorted(conda - pip)}"


def test_environment_yml_installs_the_package_and_uses_conda_forge():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    pip_section = next(e["pip"] for e in environment["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip_section


def test_every_conda_dependency_says_why():
    environment = (ROOT / "environment.yml").read_text()
    lines = environment.split("dependencies:", 1)[1].splitlines()
    entries = [line for line in lines if line.strip().startswith("- ") and "pip:" not in line]
    undocumented = [line.strip() for line in entries if "#" not in line]
    assert not undocumented, f"dependencies without a comment saying why: {undocumented}"

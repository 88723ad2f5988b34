"""requirements*.txt are requirements*.in compiled with hashes by `make lock`: an .in file edited
and not recompiled fails here. This reads the files offline; `pip-compile --dry-run` would
resolve against the package index (network, and a minute or two) on every run."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FILES = ["requirements", "requirements-dev"]


def declared(path: Path) -> dict[str, Requirement]:
    """The requirements an .in file names, with those of the files it includes (-r)."""
    found: dict[str, Requirement] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= declared(path.parent / line.removeprefix("-r ").strip())
        elif line and not line.startswith("-"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def locked(path: Path) -> tuple[dict[str, str], dict[str, int], set[str]]:
    """A compiled file's pinned versions, hash counts, and the packages it has from an .in
    file (`# via -r ...`) rather than as some package's dependency."""
    versions: dict[str, str] = {}
    hashes: dict[str, int] = {}
    top_level: set[str] = set()
    name = ""
    for line in path.read_text().replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            if name and "-r requirements" in line:
                top_level.add(name)
        elif line.strip():
            pin, *options = line.split()
            requirement = Requirement(pin)
            name = canonicalize_name(requirement.name)
            versions[name] = str(requirement.specifier).removeprefix("==")
            hashes[name] = sum(option.startswith("--hash=sha256:") for option in options)
    return versions, hashes, top_level


@pytest.mark.parametrize("name", FILES)
def test_the_compiled_file_pins_exactly_what_the_in_file_declares(name):
    wanted = declared(ROOT / f"{name}.in")
    versions, _, top_level = locked(ROOT / f"{name}.txt")
    mismatched = {
        package: (str(requirement.specifier), versions.get(package))
        for package, requirement in wanted.items()
        if package not in versions or versions[package] not in requirement.specifier
    }
    assert mismatched == {}, f"{name}.txt is out of step with {name}.in: run `make lock`"
    assert top_level == set(wanted), f"{name}.txt is out of step with {name}.in: run `make lock`"


@pytest.mark.parametrize("name", FILES)
def test_every_compiled_pin_has_its_hashes(name):
    versions, hashes, _ = locked(ROOT / f"{name}.txt")
    assert len(versions) > 10
    assert [package for package, count in hashes.items() if count == 0] == []

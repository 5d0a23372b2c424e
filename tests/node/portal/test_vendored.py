"""The vendored GOV.UK Frontend: the version govuk-frontend-jinja targets, no GOV.UK-only font or crown, and
every portal file shipped by `pip install` (pyproject.toml package-data)."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import metadata
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[3] / "node" / "portal"
VENDORED = PORTAL / "static" / "govuk-frontend"
JINJA_TARGETS = {"4.1.0": "6.3.0"}  # govuk-frontend-jinja → the GOV.UK Frontend release it is tested against


def test_the_vendored_release_is_the_one_the_jinja_macros_target() -> None:
    jinja = metadata.version("govuk-frontend-jinja")
    assert (VENDORED / "VERSION").read_text().strip() == JINJA_TARGETS[jinja]
    assert "MIT License" in (VENDORED / "LICENCE.txt").read_text()
    assert 'version="6.3.0"' in (VENDORED / "govuk-frontend.min.js").read_text()[:100]


def test_no_gds_transport_font_and_no_crown() -> None:
    css = (VENDORED / "govuk-frontend.min.css").read_text()
    assert "GDS Transport" not in css and "/assets/fonts/" not in css
    names = {p.name for p in VENDORED.rglob("*")}
    assert names == {"LICENCE.txt", "VERSION", "govuk-frontend.min.css", "govuk-frontend.min.js"}


def test_pip_install_ships_every_template_and_static_file() -> None:
    pyproject = tomllib.loads((PORTAL.parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["whoelse.node.portal"]
    files = [p.relative_to(PORTAL).as_posix() for p in PORTAL.rglob("*") if p.is_file()]
    data = [f for f in files if not f.endswith(".py") and "__pycache__" not in f]
    assert data and [f for f in data if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []

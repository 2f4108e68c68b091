"""The settings section mirrors the domain's rule parameters: same names, same defaults.

settings.py keeps its own literal defaults (importing the patrol package would pull
pyproj and shapely into every `civicgrid --help`); this test keeps the two in step.
"""

from __future__ import annotations

import dataclasses

from civicgrid.domain.patrol.rules import PatrolRules
from civicgrid.settings import PatrolSettings
from streams.patrol import rules_of


def test_settings_defaults_are_the_domain_defaults() -> None:
    assert rules_of(PatrolSettings()) == PatrolRules()


def test_every_rule_parameter_is_a_setting() -> None:
    assert {f.name for f in dataclasses.fields(PatrolRules)} <= set(PatrolSettings.model_fields)

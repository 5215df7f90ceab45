"""Connector forms generated from settings schemas, and posted forms read back."""

from __future__ import annotations

from connectors.registry import connector_types
from hub.dashboard.schema_form import config_from_form, fill, flatten, form_fields


def _jira_fields() -> list:
    return form_fields(connector_types()["jira"].settings_model.model_json_schema())


def test_every_setting_gets_the_widget_its_schema_calls_for() -> None:
    """Secret references are masked inputs, enums selects, booleans checkboxes, lists and
    maps their own kinds, nested models groups; names are the validator's field paths."""
    fields = {f.name: f for f in _jira_fields()}
    assert fields["settings.api_token"].kind == "secret"
    assert fields["settings.flavor"].kind == "select"
    assert fields["settings.flavor"].options == ["cloud", "datacenter"]
    assert fields["settings.read_sprints"].kind == "checkbox"
    assert fields["settings.projects"].kind == "list"
    assert fields["settings.base_url"].required
    mapping = fields["settings.team_mapping"]
    assert mapping.kind == "group"
    assert {c.name: c.kind for c in mapping.children} == {
        "settings.team_mapping.components": "map",
        "settings.team_mapping.projects": "map",
        "settings.team_mapping.boards": "map",
    }
    for name, cls in connector_types().items():  # every type's schema makes a form
        assert form_fields(cls.settings_model.model_json_schema()), name


def test_a_posted_form_becomes_the_settings_the_validator_checks() -> None:
    """Text, numbers, lists, key: value maps, checkboxes differing from their default;
    empty fields are left to their defaults; unreadable numbers are problems at the field."""
    fields = _jira_fields()
    posted = {
        "settings.base_url": "https://acme.atlassian.net",
        "settings.page_size": "50",
        "settings.projects": "PAY, MOB\nWEB",
        "settings.team_mapping.projects": "PAY: payments\nMOB = mobile",
        "settings.api_token": "${env:JIRA_TOKEN}",
        "settings.requests_per_second": "",
        "settings.overlap_minutes": "two",
    }
    settings, problems = config_from_form(fields, posted)
    assert settings == {
        "base_url": "https://acme.atlassian.net",
        "page_size": 50,
        "projects": ["PAY", "MOB", "WEB"],
        "team_mapping": {"projects": {"PAY": "payments", "MOB": "mobile"}},
        "api_token": "${env:JIRA_TOKEN}",
        "read_sprints": False,  # an unticked box whose default is on
    }
    assert problems == {"settings.overlap_minutes": "A whole number."}


def test_a_stored_config_fills_the_form_back() -> None:
    """A stored config shown in its form: lists comma-joined, maps one key: value a line,
    nested settings under their group's fields, errors at their fields."""
    fields = _jira_fields()
    stored = {"projects": ["PAY", "MOB"], "team_mapping": {"projects": {"PAY": "payments"}}}
    fill(fields, flatten(stored), {"settings.projects": "bad"}, posted=False)
    by_name = {f.name: f for f in fields}
    assert by_name["settings.projects"].value == "PAY, MOB"
    assert by_name["settings.projects"].error == "bad"
    group = {c.name: c for c in by_name["settings.team_mapping"].children}
    assert group["settings.team_mapping.projects"].value == "PAY: payments"
    assert by_name["settings.read_sprints"].checked  # its default

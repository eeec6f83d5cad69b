"""Model colours and names: one colour per model, never two alike in one chart, the same on
every page; short names that keep versions apart."""

from __future__ import annotations

import itertools

from promptpulse_server import palette, views

MODELS = [
    "claude-opus-4-6",
    "claude-opus-4-5-20251101",
    "claude-opus-4-1-20250805",
    "claude-opus-4-1",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-5",
    "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-20250219",
    "claude-haiku-4-5-20251001",
    "claude-3-5-haiku-20241022",
    "gpt-5",
    "<synthetic>",
]


def test_the_two_opus_versions_of_the_issue_differ() -> None:
    assert palette.model_colour("claude-opus-4-6") != palette.model_colour(
        "claude-opus-4-1-20250805"
    )


def test_no_two_models_shown_together_share_a_colour() -> None:
    for n in range(2, 5):
        for shown in itertools.combinations(MODELS, n):
            colours = palette.model_colours(shown)
            assert len(set(colours.values())) == len(shown), shown


def test_a_model_keeps_its_colour_whatever_else_is_shown() -> None:
    """Its own colour unless another model shown with it has that colour and comes first."""
    alone = {m: palette.model_colours([m])[m] for m in MODELS}
    for a, b in itertools.combinations(MODELS, 2):
        if alone[a] != alone[b]:
            assert palette.model_colours([a, b]) == {a: alone[a], b: alone[b]}


def test_families_keep_their_hue() -> None:
    assert palette.model_colour("claude-opus-4-6") != palette.model_colour("claude-sonnet-4-5")
    assert palette.model_colours(MODELS) == palette.model_colours(reversed(MODELS))


def test_projects_and_users_are_distinct_too() -> None:
    names = [f"project-{n}" for n in range(40)]
    assert len(set(palette.category_colours(names).values())) == 40


def test_short_names() -> None:
    assert palette.short_name("claude-opus-4-6") == "Opus 4.6"
    assert palette.short_name("claude-sonnet-4-5-20250929") == "Sonnet 4.5"
    assert palette.short_name("claude-3-5-haiku-20241022") == "Haiku 3.5"
    assert palette.short_name("claude-sonnet-4-20250514") == "Sonnet 4"
    assert palette.short_name("gpt-5") == "gpt-5"
    names = views.short_names(["claude-opus-4-1", "claude-opus-4-1-20250805", "claude-opus-4-6"])
    assert names == {
        "claude-opus-4-1": "Opus 4.1",
        "claude-opus-4-1-20250805": "Opus 4.1 (2025-08-05)",
        "claude-opus-4-6": "Opus 4.6",
    }

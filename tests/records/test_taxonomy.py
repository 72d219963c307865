"""The versioned taxonomy file: checked at start-up, and the spine's outcome codes kept working."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.domain.outcomes import load_outcome_taxonomy
from console.domain.taxonomy import DETAIL_KEYS, load_taxonomy
from console.settings import DEFAULT_CONFIG_DIR, SettingsError

SPINE_CODES = {
    "information_given",
    "emotional_support",
    "referred",
    "callback_arranged",
    "silent",
    "hang_up",
    "abusive",
    "test",
    "wrong_number",
}


def test_the_shipped_taxonomy_is_the_victim_support_default() -> None:
    taxonomy = load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.toml")
    assert {c.code for c in taxonomy.codes} >= SPINE_CODES
    assert {c.code for c in taxonomy.codes if c.non_data} == {
        "silent",
        "hang_up",
        "abusive",
        "test",
        "wrong_number",
    }
    assert [c.code for c in taxonomy.caller_roles] == [
        "victim",
        "witness",
        "relative_or_friend",
        "professional",
        "other",
    ]
    assert len(taxonomy.victimisation) == 16
    assert len(taxonomy.needs) == 9
    assert taxonomy.required <= set(DETAIL_KEYS)
    form = taxonomy.to_form()
    assert form["version"] == taxonomy.version
    assert {"code": "BE", "label": "Belgium"} in form["countries"]


def test_the_old_outcomes_path_reads_the_new_file() -> None:
    legacy = load_outcome_taxonomy(DEFAULT_CONFIG_DIR / "outcomes.toml")
    full = load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.toml")
    assert legacy.version == full.version
    assert {c.code for c in legacy.codes} == {c.code for c in full.codes}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[outcome]]\ncode = "x"\nlabel = "X"\n', "version must be"),
        ("version = 3\n", "at least one [[outcome]]"),
        (
            'version = 3\nrequired = ["note"]\n[[outcome]]\ncode = "x"\nlabel = "X"\n',
            "required may",
        ),
        (
            'version = 3\n[[outcome]]\ncode = "x"\nlabel = "X"\n'
            '[[need]]\ncode = "a"\nlabel = "A"\n[[need]]\ncode = "a"\nlabel = "B"\n',
            "codes must be unique",
        ),
        (
            'version = 3\n[[outcome]]\ncode = "x"\nlabel = "X"\n'
            '[[need]]\ncode = "Bad Code"\nlabel = "A"\n',
            "lowercase",
        ),
        ("version = [", "invalid TOML"),
    ],
)
def test_a_broken_taxonomy_stops_start_up_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "taxonomy.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_taxonomy(path)
    assert message in str(caught.value)
    assert "taxonomy.toml" in str(caught.value)

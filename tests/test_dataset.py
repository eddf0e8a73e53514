"""The dataset card: validation with errors that name the key and what was expected."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from workbench.dataset import DEFAULT_CONTROLS, load_dataset, parse_card
from workbench.errors import DatasetCardError


def write_card(folder: Path, card: dict) -> Path:
    (folder / "raw").mkdir(exist_ok=True)
    (folder / "raw" / "a.csv").write_text("x\n")
    (folder / "dataset.yml").write_text(yaml.safe_dump(card))
    return folder


MINIMAL = {"name": "demo", "posts": ["raw/*.csv"]}


def test_minimal_card_gets_defaults(tmp_path):
    ds = load_dataset(write_card(tmp_path, MINIMAL))
    assert ds.name == "demo" and ds.title == "demo" and ds.timezone == "UTC"
    assert ds.analysis.controls == DEFAULT_CONTROLS
    assert ds.analysis.equivalence_margin == (0.8, 1.25)
    assert [p.name for p in ds.post_files()] == ["a.csv"]


def test_full_card(tmp_path):
    card = {
        **MINIMAL,
        "title": "T",
        "timezone": "America/New_York",
        "account": ["raw/a.csv", {"path": "raw/a.csv", "columns": {"tweet_impressions": "impressions"}}],
        "interventions": [{"date": "2022-01-01", "label": "Designer"}],
        "analysis": {"outcomes": ["impressions"], "controls": []},
        "goals": [{"metric": "followers", "target": 2000, "by": "2023-12-31"}],
    }
    ds = load_dataset(write_card(tmp_path, card))
    assert ds.interventions[0].date == dt.date(2022, 1, 1)
    assert ds.account[1].column_map == {"tweet_impressions": "impressions"}
    assert ds.analysis.controls == ()  # an explicit empty list means no controls
    assert ds.goals[0].target == 2000.0
    assert len(ds.account_files()) == 2


@pytest.mark.parametrize(
    ("card", "match"),
    [
        ({**MINIMAL, "colour": "red"}, r"unknown key 'colour' in the card\. Allowed keys: name, title"),
        ({"posts": ["raw/*.csv"]}, r"required key 'name' is missing"),
        ({**MINIMAL, "name": "Bad Name"}, r"name must use only a-z"),
        ({**MINIMAL, "timezone": "Mars/Olympus"}, r"timezone 'Mars/Olympus' is not an IANA zone"),
        ({**MINIMAL, "interventions": [{"date": "2022-13-01"}]}, r"interventions\[0\]\.date must be a date"),
        ({**MINIMAL, "interventions": [{"date": "2022-02-01"}, {"date": "2022-01-01"}]}, r"increasing order"),
        ({**MINIMAL, "analysis": {"outcome": ["x"]}}, r"unknown key 'outcome' in analysis"),
        ({**MINIMAL, "analysis": {"equivalence_margin": [1.2, 0.8]}}, r"equivalence_margin"),
        ({**MINIMAL, "goals": [{"metric": "followers", "target": "many", "by": "2023-01-01"}]}, r"target must be a number"),
        ({**MINIMAL, "account": [{"columns": {}}]}, r"has no 'path'"),
    ],
)
def test_invalid_cards_name_the_problem(tmp_path, card, match):
    with pytest.raises(DatasetCardError, match=match):
        load_dataset(write_card(tmp_path, card))


def test_glob_matching_nothing_names_the_pattern(tmp_path):
    ds = load_dataset(write_card(tmp_path, {**MINIMAL, "posts": ["raw/none_*.csv"]}))
    with pytest.raises(DatasetCardError, match=r"posts pattern 'raw/none_\*\.csv' matches no file"):
        ds.post_files()


def test_codes_glob_matching_nothing_yet_is_no_error(tmp_path):
    """Coding has not started: an empty coding folder is normal, the posts glob is still checked."""
    (tmp_path / "coding").mkdir()
    ds = load_dataset(write_card(tmp_path, {**MINIMAL, "codes": ["coding/*.csv"]}))
    assert ds.code_files() == []
    (tmp_path / "coding" / "coder_a.csv").write_text("post_id,coder,has_poll\n")
    assert [p.name for p in ds.code_files()] == ["coder_a.csv"]


def test_missing_card(tmp_path):
    with pytest.raises(DatasetCardError, match="no dataset card: expected dataset.yml"):
        load_dataset(tmp_path)


def test_invalid_yaml(tmp_path):
    (tmp_path / "dataset.yml").write_text("name: [unclosed\n")
    with pytest.raises(DatasetCardError, match="not valid YAML"):
        load_dataset(tmp_path)


def test_card_must_be_mapping(tmp_path):
    with pytest.raises(DatasetCardError, match="must be a mapping"):
        parse_card(["a"], tmp_path)


def test_codebook_not_yet_written_is_a_path_not_an_error(tmp_path):
    ds = load_dataset(write_card(tmp_path, {**MINIMAL, "codebook": "codebook.yml"}))
    assert ds.codebook_path() == tmp_path.resolve() / "codebook.yml"  # the report says it is not available
    (tmp_path / "codebook.yml").mkdir()
    with pytest.raises(DatasetCardError, match=r"codebook 'codebook\.yml' is a folder"):
        ds.codebook_path()

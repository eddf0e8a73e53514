"""The interactive model explorer, driven without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.explore import TABLE_COLUMNS, ModelExplorer
from workbench.models import fit_post_models

pytestmark = pytest.mark.filterwarnings("ignore::workbench.models.ModelWarning")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def posts() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    n = 400
    poll = rng.random(n) < 0.3
    url = rng.random(n) < 0.5
    tags = rng.poisson(1.0, n)
    year = rng.choice([2021, 2022], n)
    followers = rng.integers(800, 1200, n)
    imp = np.round(np.exp(5 + 0.3 * poll - 0.2 * url + rng.normal(0, 0.5, n)))
    eng = rng.poisson(imp * 0.02 * np.exp(0.4 * poll))
    return pd.DataFrame(
        {
            "post_id": [f"p{i}" for i in range(n)],
            "impressions": pd.array(imp.astype(int), dtype="Int64"),
            "engagements": pd.array(eng, dtype="Int64"),
            "has_poll": pd.array(poll, dtype="boolean"),
            "has_url": pd.array(url, dtype="boolean"),
            "n_hashtags": pd.array(tags, dtype="Int64"),
            "followers_at_post": pd.array(followers, dtype="Float64"),
            "year": pd.array(year, dtype="Int64"),
        }
    )


def make(posts, **kw) -> ModelExplorer:
    return ModelExplorer(
        posts,
        outcomes=("impressions", "engagements"),
        predictors=("has_poll", "has_url", "n_hashtags"),
        controls=("followers_at_post", "year"),
        **kw,
    )


def expected(posts, outcome, predictors, controls, model) -> pd.DataFrame:
    t = fit_post_models(
        posts, outcomes=(outcome,), predictors=predictors, controls=controls, models=(model,)
    ).table
    return t[(t["term_type"] == "predictor")][list(TABLE_COLUMNS)].reset_index(drop=True)


def test_initial_fit_is_first_outcome_and_model(posts):
    ex = make(posts)
    assert (ex.outcome, ex.model) == ("impressions", "ols_log")
    assert ex.predictors == ("has_poll", "has_url", "n_hashtags")
    pd.testing.assert_frame_equal(
        ex.table, expected(posts, "impressions", ex.predictors, ex.controls, "ols_log"), check_dtype=False
    )
    assert ex.png.startswith(PNG_MAGIC) and ex.image.value == ex.png
    assert "has_poll" in ex.table_html.value


def test_select_refits_once_with_the_new_choices(posts, monkeypatch):
    ex = make(posts)
    calls = []
    original = ex.refit

    def counting():
        calls.append(1)
        original()

    monkeypatch.setattr(ex, "refit", counting)
    ex.select(outcome="engagements", model="negbin_rate", predictors=["has_poll"], controls=[])
    assert len(calls) == 1
    assert list(ex.table["term"]) == ["has_poll"]
    pd.testing.assert_frame_equal(
        ex.table, expected(posts, "engagements", ("has_poll",), (), "negbin_rate"), check_dtype=False
    )
    # the rate model sees the +49% (exp 0.4) engagement-rate effect of polls
    assert ex.table.loc[0, "effect_pct"] == pytest.approx(100 * (np.exp(0.4) - 1), abs=15)


def test_widget_change_refits(posts):
    ex = make(posts)
    before = ex.table.copy()
    ex.model_widget.value = "negbin"
    assert ex.result.table["model"].unique().tolist() == ["negbin"]
    assert not np.allclose(ex.table["estimate"], before["estimate"])
    ex.control_widget.value = ()
    pd.testing.assert_frame_equal(
        ex.table, expected(posts, "impressions", ex.predictors, (), "negbin"), check_dtype=False
    )


def test_impossible_choices_explain_themselves(posts):
    ex = make(posts)
    ex.select(model="negbin_rate")  # impressions per impression makes no sense
    assert ex.table.empty and ex.png == b""
    assert "choose another outcome" in ex.message.value
    ex.select(model="ols_log", predictors=[])
    assert ex.table.empty and ex.warnings == ["Choose at least one predictor."]


def test_bad_arguments(posts):
    with pytest.raises(InputError, match=r"predictor\(s\) \['has_gif'\] are not columns"):
        ModelExplorer(posts, predictors=("has_poll", "has_gif"), controls=())
    with pytest.raises(InputError, match=r"unknown model\(s\) \['poisson'\]"):
        ModelExplorer(posts, predictors=("has_poll",), controls=(), models=("poisson",))
    ex = make(posts)
    with pytest.raises(InputError, match=r"outcome \['likes'\] not offered"):
        ex.select(outcome="likes")


def test_input_not_mutated(posts):
    before = posts.copy()
    make(posts).select(outcome="engagements", model="negbin")
    pd.testing.assert_frame_equal(posts, before)


def test_a_click_on_a_check_box_toggles_only_that_predictor(posts, monkeypatch):
    ex = make(posts)
    fits = []
    import workbench.explore as explore_module

    real = explore_module.fit_post_models

    def recording(*args, **kwargs):
        fits.append((ex.status.value, ex.outcome_widget.disabled, kwargs["predictors"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(explore_module, "fit_post_models", recording)
    box = dict(zip(ex.predictor_widget.options, ex.predictor_widget.boxes, strict=True))
    box["has_url"].value = False  # one click
    assert ex.predictors == ("has_poll", "n_hashtags") and list(ex.table["term"]) == ["has_poll", "n_hashtags"]
    box["has_url"].value = True
    assert ex.predictors == ("has_poll", "has_url", "n_hashtags")
    # the refit said so while it ran (controls disabled), and not after
    assert fits == [("<i>Refitting the model…</i>", True, ("has_poll", "n_hashtags")),
                    ("<i>Refitting the model…</i>", True, ("has_poll", "has_url", "n_hashtags"))]
    assert ex.status.value == "" and not ex.outcome_widget.disabled
    ex.control_widget.value = ("year",)
    assert [b.value for b in ex.control_widget.boxes] == [False, True] and len(fits) == 3


def test_table_headers_are_words(posts):
    ex = make(posts)
    html = ex.table_html.value
    for header in ("Predictor", "Change (%)", "95% CI, low (%)", "Standard error", "p, Holm-adjusted", "Posts"):
        assert f"<th>{header}</th>" in html
    assert "<th>effect_pct</th>" not in html and list(ex.table.columns) == list(TABLE_COLUMNS)


def test_for_dataset_offers_what_the_data_has(posts):
    from types import SimpleNamespace

    analysis = SimpleNamespace(outcomes=("impressions", "engagements"), predictors=("has_poll", "has_graphic"),
                               controls=("followers_at_post", "year"))
    ex = ModelExplorer.for_dataset(posts, SimpleNamespace(analysis=analysis))
    assert ex.predictors == ("has_poll",) and ex.predictor_widget.options == ("has_poll",)
    assert any("has_graphic" in m for m in ex.warnings) and "has_graphic" in ex.message.value

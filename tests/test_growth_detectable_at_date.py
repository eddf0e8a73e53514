"""How large a change must be to count as a change at the date (growth.json trend_adjusted.detectable) and the
sentence that says it beside the rate comparison's minimum detectable change."""

from __future__ import annotations

import pytest
from conftest import code_example
from scipy.stats import norm

from workbench import growth, results
from workbench.report.format import format_ratio
from workbench.report.wording import describe_detectable


@pytest.fixture(scope="module")
def example_growth(tmp_path_factory):
    ds, _, account, coded = code_example(tmp_path_factory.mktemp("detectable"))
    kwargs = results.growth_settings(ds)
    kwargs["month_of_previous"] = growth.month_of_previous_sources(ds)
    return growth.compare_growth(account, posts=coded, **kwargs)


def test_the_jump_detectable_at_the_date_is_the_calibrated_critical_value_plus_the_power_quantile(example_growth):
    comp = example_growth["comparisons"][0]
    ta = comp["trend_adjusted"]
    det = ta["detectable"]
    step = (ta["jump_critical_value"] + norm.ppf(0.8)) * ta["jump_se"]
    assert det["ratio_increase"] == pytest.approx(1 + step / ta["rate_before_at_date"], rel=1e-12)
    expected_down = 1 - step / ta["rate_before_at_date"]
    assert det["ratio_decrease"] == (pytest.approx(expected_down, rel=1e-12) if expected_down > 0 else None)
    # it needs more than the rate comparison: the trend and the jump share the series' information
    assert det["ratio_increase"] > comp["minimum_detectable"]["ratio_increase"]


def test_the_sentence_says_what_a_change_at_the_date_takes(example_growth):
    comp = dict(example_growth["comparisons"][0])
    text = describe_detectable(comp)
    up = comp["trend_adjusted"]["detectable"]["ratio_increase"]
    assert "To count as a change at the date it must also stand out from a steady trend in the rate" in text
    assert f"a jump to about {format_ratio(up)} the rate at the date" in text
    comp["trend_adjusted"] = {}
    assert "To count as a change at the date" not in describe_detectable(comp)

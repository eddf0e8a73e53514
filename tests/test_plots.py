"""Tests of the figures: each function returns the Axes with the expected artists drawn from its input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection, PolyCollection, QuadMesh
from matplotlib.figure import Figure

from workbench.errors import InputError
from workbench.plots import (
    count_posting_times,
    label_feature,
    plot_forest,
    plot_growth,
    plot_monthly,
    plot_posting_heatmap,
)


@pytest.fixture
def ax() -> Axes:
    """An Axes on a figure outside pyplot (nothing to close, no display needed)."""
    return Figure().add_subplot()


def regression_table(*, with_effect_pct: bool = True, with_term_type: bool = True) -> pd.DataFrame:
    # estimates chosen so that 100·(exp(b) − 1) is a round number: log(1.5) → +50%, log(0.8) → −20%
    terms = {
        "Intercept": np.log(100),
        "has_poll": np.log(1.5),
        "has_graphic": np.log(1.1),
        "n_hashtags": np.log(0.8),
        "year": np.log(1.01),
    }
    rows = []
    for outcome in ("impressions", "engagements"):
        for model in ("ols_log", "negbin"):
            for term, b in terms.items():
                rows.append(
                    {
                        "outcome": outcome,
                        "model": model,
                        "term": term,
                        "estimate": b,
                        "ci_low": b - 0.1,
                        "ci_high": b + 0.1,
                        "term_type": "intercept"
                        if term == "Intercept"
                        else "control"
                        if term == "year"
                        else "predictor",
                    }
                )
    table = pd.DataFrame(rows)
    if with_effect_pct:
        table["effect_pct"] = 100 * np.expm1(table["estimate"])
        table["effect_pct_ci_low"] = 100 * np.expm1(table["ci_low"])
        table["effect_pct_ci_high"] = 100 * np.expm1(table["ci_high"])
    if not with_term_type:
        table = table.drop(columns="term_type")
    return table


@pytest.mark.parametrize("with_effect_pct", [True, False])
def test_forest_draws_one_point_per_predictor_with_its_ci_and_a_zero_line(ax, with_effect_pct):
    out = plot_forest(regression_table(with_effect_pct=with_effect_pct), outcome="impressions", ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Hashtags (count)", "Graphic", "Poll"]
    points = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(points) == 1
    np.testing.assert_allclose(points[0].get_xdata(), [-20.0, 10.0, 50.0])
    zero = [line for line in ax.lines if list(line.get_xdata()) == [0, 0]]
    assert len(zero) == 1
    (bars,) = [c for c in ax.collections if len(c.get_segments()) == 3]
    lows = sorted(seg[:, 0].min() for seg in bars.get_segments())
    highs = sorted(seg[:, 0].max() for seg in bars.get_segments())
    expected = np.array([0.8, 1.1, 1.5])
    np.testing.assert_allclose(lows, 100 * (expected * np.exp(-0.1) - 1))
    np.testing.assert_allclose(highs, 100 * (expected * np.exp(0.1) - 1))


def test_forest_without_term_type_keeps_every_term_but_the_intercept(ax):
    plot_forest(regression_table(with_term_type=False), outcome="engagements", model="negbin", ax=ax)
    assert len(ax.get_yticklabels()) == 4
    assert "Intercept" not in [t.get_text() for t in ax.get_yticklabels()]


def test_forest_names_what_exists_when_the_outcome_is_missing(ax):
    with pytest.raises(
        InputError, match=r"no predictor rows for outcome 'reach'.*\('engagements', 'negbin'\)"
    ):
        plot_forest(regression_table(), outcome="reach", ax=ax)


def growth_dict(*, counterfactual: bool = True) -> dict:
    growth = {
        "metric": "followers",
        "origin": "2021-01-01",
        "periods": [
            {
                "label": "before",
                "start": "2021-01-01",
                "end": "2021-01-11",
                "intercept": 100.0,
                "slope_per_day": 1.0,
            },
            {
                "label": "after",
                "start": "2021-01-11",
                "end": "2021-01-21",
                "intercept": 90.0,
                "slope_per_day": 2.0,
            },
        ],
        "series": [
            {"date": f"2021-01-{d:02d}", "value": v, "period": p}
            for d, v, p in [
                (1, 100, "before"),
                (6, 105, "before"),
                (10, 109, "before"),
                (11, 110, "after"),
                (16, 122, "after"),
                (21, 130, "after"),
            ]
        ],
    }
    if counterfactual:
        growth["counterfactual"] = {
            "dates": ["2021-01-11", "2021-01-16", "2021-01-21"],
            "projected": [110, 115, 120],
            "pi_low": [108, 112, 116],
            "pi_high": [112, 118, 124],
        }
    return growth


def test_growth_draws_points_fitted_segments_intervention_and_band(ax):
    out = plot_growth(growth_dict(), ax=ax)
    assert out is ax
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [len(s.get_offsets()) for s in scatters] == [3, 3]
    assert len(bands) == 1
    # fitted segments: intercept + slope·days at the period ends (days since origin 1 Jan)
    fitted = [line for line in ax.lines if line.get_label().startswith("fitted trend")]
    assert [list(line.get_ydata()) for line in fitted] == [[100.0, 110.0], [110.0, 130.0]]
    projected = [line for line in ax.lines if line.get_label() == "projected without the change"]
    assert list(projected[0].get_ydata()) == [110, 115, 120]
    assert len(ax.lines) == 4  # two segments, one intervention line, one projection
    assert [t.get_text() for t in ax.texts] == ["after"]
    assert tuple(scatters[0].get_facecolor()[0][:3]) == pytest.approx(sns.color_palette("colorblind")[0])


def test_growth_with_named_interventions_and_no_counterfactual(ax):
    plot_growth(
        growth_dict(counterfactual=False),
        interventions=[("2021-01-11", "Designer joined"), ("2021-01-15", "<Newsletter>")],
        ax=ax,
    )
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(ax.lines) == 4  # two segments, two intervention lines
    assert [t.get_text() for t in ax.texts] == ["Designer joined", "<Newsletter>"]


def _panel_text(ax) -> str:
    return " ".join(t.get_text() for t in ax.texts)


def test_growth_without_data_says_so(ax):
    """Issue 10.1: no follower data degrades to a panel that says why (the stage must not fail on it)."""
    out = plot_growth({"metric": "followers", "periods": [], "series": []}, ax=ax)
    assert "Not available: there is no follower data to plot" in _panel_text(out) and not out.axison
    typed = {"metric": "followers", "periods": [], "series": [], "not_available": {"reason": "no follower data"}}
    assert "Not available: no follower data" in _panel_text(plot_growth(typed, ax=ax))


def test_monthly_draws_a_bar_per_month_and_a_mean_line_per_period(ax):
    growth = {
        "monthly": {"metric": "impressions"},
        "monthly_series": [
            {"month": f"2021-{m:02d}-01", "impressions": v, "period": "before" if m <= 3 else "after"}
            for m, v in zip(range(1, 7), [10, 20, 30, 100, 110, 120], strict=True)
        ],
    }
    out = plot_monthly(growth, ax=ax)
    assert out is ax
    assert [p.get_height() for p in ax.patches] == [10, 20, 30, 100, 110, 120]
    assert [list(line.get_ydata()) for line in ax.lines] == [[20.0, 20.0], [110.0, 110.0]]
    assert ax.get_ylabel() == "impressions per month"


def test_monthly_without_a_series_says_so(ax):
    out = plot_monthly({"monthly": {"metric": "impressions"}}, ax=ax)
    assert "Not available: the account table has no monthly values to compare" in _panel_text(out)


def test_posting_heatmap_counts_posts_per_weekday_and_hour(ax):
    posts = pd.DataFrame({"weekday_local": [0, 0, 0, 2, 6, None], "hour_local": [9, 9, 17, 23, 0, 5]})
    counts = count_posting_times(posts)
    assert counts.shape == (7, 24)
    assert (
        counts.loc[0, 9] == 2 and counts.loc[0, 17] == 1 and counts.loc[2, 23] == 1 and counts.loc[6, 0] == 1
    )
    assert counts.to_numpy().sum() == 5  # the row without a weekday is not counted
    out = plot_posting_heatmap(posts, ax=ax)
    assert out is ax
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(7, 24), counts.to_numpy())
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "1", "2"]  # empty cells stay blank
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert "descriptive" in ax.get_title()


def test_posting_heatmap_lists_the_columns_it_found():
    with pytest.raises(InputError, match=r"(?s)missing columns \['weekday_local', 'hour_local'\].*'text'"):
        plot_posting_heatmap(pd.DataFrame({"text": ["a"]}))


def test_without_an_axes_a_new_figure_is_made():
    try:
        ax = plot_posting_heatmap(pd.DataFrame({"weekday_local": [1], "hour_local": [12]}))
        assert isinstance(ax, Axes)
    finally:
        plt.close("all")


def test_feature_labels():
    assert label_feature("has_poll") == "Poll"
    assert label_feature("has_url") == "Link (URL)"
    assert label_feature("n_hashtags") == "Hashtags (count)"
    assert label_feature("followers_at_post") == "Followers at post"


def test_monthly_greys_out_transition_months_without_a_mean(ax):
    growth = {
        "monthly": {"metric": "posts"},
        "monthly_series": [
            {"month": "2021-01-01", "posts": 4, "period": "before"},
            {"month": "2021-02-01", "posts": 6, "period": "before"},
            {"month": "2021-03-01", "posts": 50, "period": "transition"},
            {"month": "2021-04-01", "posts": 9, "period": "after"},
            {"month": "2021-05-01", "posts": 11, "period": "after"},
        ],
    }
    plot_monthly(growth, ax=ax)
    assert sorted(p.get_height() for p in ax.patches) == [4, 6, 9, 11, 50]
    assert [list(line.get_ydata()) for line in ax.lines] == [[5.0, 5.0], [10.0, 10.0]]
    grey = [p for p in ax.patches if p.get_height() == 50][0]
    assert grey.get_facecolor()[:3] == pytest.approx((0.75, 0.75, 0.75))


def test_growth_takes_intervention_labels_from_the_results(ax):
    growth = growth_dict(counterfactual=False)
    growth["interventions"] = [{"date": "2021-01-11", "label": "Designer joined"}]
    plot_growth(growth, ax=ax)
    assert [t.get_text() for t in ax.texts] == ["Designer joined"]


def test_plot_residuals_draws_a_stated_sample_of_a_large_fit():
    import numpy as np

    from workbench.plots import RESIDUAL_EXTREMES, RESIDUAL_SAMPLE, plot_residuals, residual_sample

    rng = np.random.default_rng(1)
    n = 40_000
    frame = pd.DataFrame({"fitted": rng.normal(size=n), "std_residual": rng.standard_t(3, size=n)})
    frame["theoretical_quantile"] = np.sort(rng.normal(size=n))[np.argsort(np.argsort(frame["std_residual"]))]
    frame.loc[7, "std_residual"] = np.nan  # a NaN residual is neither an extreme nor a crash
    shown = residual_sample(frame)
    assert RESIDUAL_SAMPLE <= len(shown) <= RESIDUAL_SAMPLE + 2 * RESIDUAL_EXTREMES
    finite = frame["std_residual"].dropna()
    assert set(finite.nsmallest(RESIDUAL_EXTREMES).index) <= set(shown.index)  # the tails are always drawn
    assert set(finite.nlargest(RESIDUAL_EXTREMES).index) <= set(shown.index)
    assert shown.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(residual_sample(frame), shown)  # the same rows every run
    left, right = plot_residuals(frame, title="impressions")
    assert len(left.collections[0].get_offsets()) == len(shown)
    assert f"random sample of {RESIDUAL_SAMPLE:,} of {n:,} posts" in left.get_title()
    assert f"the same {len(shown):,} posts" in right.get_title()
    small = frame.head(300)
    assert residual_sample(small) is small


def test_categorical_level_labels():
    assert label_feature("media_type[photo]") == "Media type: photo"
    assert label_feature("year[T.2022]") == "Year: 2022"


def test_plot_residuals_draws_both_panels():
    import numpy as np

    from workbench.plots import plot_residuals

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"fitted": rng.normal(size=50), "std_residual": rng.normal(size=50)})
    frame["theoretical_quantile"] = np.sort(rng.normal(size=50))
    left, right = plot_residuals(frame, title="impressions")
    assert len(left.collections) == 1 and len(left.collections[0].get_offsets()) == 50
    assert len(right.collections) == 1 and len(right.lines) == 1
    assert "impressions" in left.get_title()
    with pytest.raises(InputError, match="missing columns"):
        plot_residuals(frame.drop(columns="fitted"))



def test_palette_is_seaborns_colorblind_palette_without_importing_seaborn():
    """plots keeps seaborn's colours but imports seaborn only for the heatmap (a kernel that draws growth figures
    does not pay for it)."""
    import subprocess
    import sys

    from workbench import plots

    assert plots.palette(12) == [sns.color_palette("colorblind")[i % 10] for i in range(12)]
    code = ("import sys, json\nfrom workbench import plots\nplots.palette(3)\n"
            "print('seaborn' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


# --- drawn once: workbench.plots.figure_png and the notebooks' show_* helpers --------------------------------------

def _count_draws(monkeypatch) -> list[int]:
    calls = [0]
    original = Figure.draw

    def counting(self, renderer):
        calls[0] += 1
        return original(self, renderer)

    monkeypatch.setattr(Figure, "draw", counting)
    return calls


def _decoded_size(png: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.size


def _inside(fig) -> bool:
    """Every Axes with its tick labels, axis labels, title and legend lies inside the figure (nothing clipped)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for axes in fig.axes:
        tight = axes.get_tightbbox(renderer)
        if tight.x0 < box.x0 - 0.5 or tight.y0 < box.y0 - 0.5 or tight.x1 > box.x1 + 0.5 or tight.y1 > box.y1 + 0.5:
            return False
    return True


def test_figure_png_draws_once_at_the_figure_size(monkeypatch):
    from workbench.plots import figure_png, new_figure

    fig, axes = new_figure((6.5, 4.0))
    plot_forest(regression_table(), outcome="impressions", ax=axes[0, 0])
    draws = _count_draws(monkeypatch)
    png = figure_png(fig)
    assert draws[0] == 1  # no dry-run draw (a figure with a layout engine gets one), no layout inside the draw
    assert fig.get_layout_engine() is None
    assert _decoded_size(png) == (650, 400)
    assert b"Software" not in png[:200]  # no tool metadata: the same figure gives the same bytes
    again, axes = new_figure((6.5, 4.0))
    plot_forest(regression_table(), outcome="impressions", ax=axes[0, 0])
    assert figure_png(again) == png


@pytest.mark.parametrize("long", [False, True])
def test_figure_png_fits_long_labels_inside_the_figure(long):
    """Margins come from the labels, whatever their length: a long predictor name, intervention label or metric
    name is not cut off."""
    from workbench.plots import figure_png, new_figure

    table = regression_table()
    if long:
        table["term"] = table["term"].replace({"has_poll": "has_a_predictor_named_at_great_length_by_a_user"})
    fig, axes = new_figure((6.5, 3.4))
    plot_forest(table, outcome="impressions", ax=axes[0, 0])
    figure_png(fig)
    assert _inside(fig)
    growth = {"metric": "followers per month of the main account in the export" if long else "followers",
              "series": [{"date": f"2021-{m:02d}-01", "value": 100 + 1000000 * m, "period": "before"}
                         for m in range(1, 13)],
              "periods": [{"label": "before", "start": "2021-01-01", "end": "2021-12-01", "intercept": 100.0,
                           "slope_per_day": 33000.0}], "origin": "2021-01-01"}
    fig, axes = new_figure((8, 4.5))
    plot_growth(growth, ax=axes[0, 0])
    figure_png(fig)
    assert _inside(fig)


def test_posting_heatmap_never_imports_seaborn():
    """The report kernel draws the posting-time heatmap with matplotlib alone (importing seaborn cost ≈ 0.15 s and
    its heatmap draws the whole figure once more)."""
    import subprocess
    import sys

    code = ("import sys\nimport pandas as pd\nfrom workbench.plots import figure_png, new_figure, "
            "plot_posting_heatmap\nfig, axes = new_figure((10, 3.6))\nplot_posting_heatmap(pd.DataFrame("
            "{'weekday_local': [0, 1, 6], 'hour_local': [0, 12, 23]}), ax=axes[0, 0])\nfigure_png(fig)\n"
            "print('seaborn' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_posting_heatmap_looks_like_seaborns(ax):
    """The cells of seaborn's heatmap: cividis from 0 to the largest count, white lines, a 'posts' colour bar
    without outline, no spines, a label at each cell's centre, Monday on top; on a narrow Axes every other hour
    is labelled (labels at least 1.8 font sizes apart never overlap)."""
    from workbench.plots import new_figure

    posts = pd.DataFrame({"weekday_local": [0, 0, 3, 6], "hour_local": [9, 9, 14, 23]})
    plot_posting_heatmap(posts, ax=ax)  # 6.4 in wide: 24 labels 0.25 in apart do not fit
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(h) for h in range(0, 24, 2)]
    assert list(ax.get_xticks()) == [h + 0.5 for h in range(0, 24, 2)]
    ax = new_figure((10, 3.6))[1][0, 0]  # the report's size
    plot_posting_heatmap(posts, ax=ax)
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.get_cmap().name == "cividis" and mesh.norm.vmin == 0 and mesh.norm.vmax == 2
    assert mesh.get_linewidths()[0] == pytest.approx(0.3)
    assert tuple(mesh.get_edgecolor()[0]) == (1.0, 1.0, 1.0, 1.0)
    assert not any(spine.get_visible() for spine in ax.spines.values())
    assert ax.get_ylim() == (7, 0) and ax.get_xlim() == (0, 24)
    colorbar = mesh.colorbar
    assert colorbar.ax.get_ylabel() == "posts" and colorbar.outline.get_linewidth() == 0
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(h) for h in range(24)]
    assert list(ax.get_xticks()) == [h + 0.5 for h in range(24)]


def test_show_helpers_return_the_png_as_the_cells_image(monkeypatch):
    from workbench import results
    from workbench.plots import FigurePNG

    open_before = plt.get_fignums()
    shown = results.show_forest(regression_table())
    assert isinstance(shown, FigurePNG)
    assert _decoded_size(shown._repr_png_()) == (1300, 450)  # both outcomes side by side, 6.5 × 4.5 in each
    assert "PNG" in repr(shown)
    growth = {"metric": "followers", "series": [], "periods": []}
    draws = _count_draws(monkeypatch)
    assert _decoded_size(results.show_growth(growth).png) == (800, 450)
    assert _decoded_size(results.show_monthly(growth).png) == (800, 400)
    assert draws[0] == 2
    assert plt.get_fignums() == open_before  # nothing left open for an inline backend to draw again

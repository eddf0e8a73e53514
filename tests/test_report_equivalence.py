"""The report stage's outputs from the fast paths (ranked posts a slice at a time in Arrow, report_posts.csv in
slices, the extras reusing the posts the findings read, figures drawn once without seaborn) are those of the
implementations they replaced, on the example dataset as the pipeline codes it (without models, and with every
stage run) and on the same runs with hostile texts (mentions, formula prefixes, a carriage return, links, long
texts): every file byte for byte, report.html with each inline PNG replaced by a placeholder, and the figures
the same set (names, alt texts, captions), each a PNG of the size the previous figure had."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io as stdio
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import code_example

from workbench import growth, io, models, pipeline, publications_stage, results
from workbench.findings import compute_findings, extras, write_findings
from workbench.report import appendix, render, render_report

sys.path.insert(0, str(Path(__file__).parent))
from test_report_fastpath import TEXTS, _pandas_csv, _reference  # noqa: E402 - the pre-change implementations

REPO = Path(__file__).resolve().parents[1]
TODAY = dt.date(2026, 1, 15)
#: what the report stage writes (notebook 05: write_findings, then render_report)
OUTPUTS = ("report.html", "report_posts.csv", "results/findings.json", "results/claims.json",
           "results/timing.json", "results/campaigns.json", "results/privacy_review.csv")


@pytest.fixture(scope="module")
def example_run(tmp_path_factory) -> tuple[Path, Path]:
    """The example dataset ingested and coded as stages 01 and 02 do (no models: the report says so)."""
    run = tmp_path_factory.mktemp("example_run")
    code_example(run)
    return REPO / "data" / "example", run


@pytest.fixture(scope="module")
def full_run(example_run, tmp_path_factory) -> tuple[Path, Path]:
    """The same run with stages 03, 04 and 06 done as their notebooks do: every figure of the report is drawn
    (forest plots, growth, monthly, posting times) or inlined (the publications stage's)."""
    dataset_dir, coded_run = example_run
    run = tmp_path_factory.mktemp("full_run") / "run"
    shutil.copytree(coded_run, run)
    ds, paths = pipeline.open_run(dataset_dir, run)
    posts_coded = results.load_posts_coded(paths)
    fit = models.fit_post_models(posts_coded, **results.model_settings(ds))
    results.save_post_models(paths, fit)
    settings = results.growth_settings(ds)
    settings["month_of_previous"] = growth.month_of_previous_sources(ds)
    results.save_growth(paths, growth.compare_growth(results.load_account(paths), posts=posts_coded, **settings))
    publications_stage.run_publications(ds, paths, posts_coded)
    return dataset_dir, run


def _reference_figure_png(draw, *, figsize):
    """The report's figures as they were drawn before: a constrained layout (re-run in each of savefig's two
    draws)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig.add_subplot())
    buf = stdio.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _reference_posting_heatmap(posts, *, ax=None):
    """The posting-time heatmap as seaborn drew it before."""
    import seaborn as sns

    from workbench.plots import WEEKDAYS, count_posting_times

    counts = count_posting_times(posts)
    values = counts.to_numpy()
    sns.heatmap(counts, ax=ax, cmap="cividis", annot=False, cbar_kws={"label": "posts"}, linewidths=0.3,
                linecolor="white", vmin=0)
    if values.max() < 1000:
        top = values.max()
        for day, hour in zip(*np.nonzero(values), strict=True):
            ax.text(hour + 0.5, day + 0.5, str(values[day, hour]), ha="center", va="center", fontsize=7,
                    color="black" if values[day, hour] > top / 2 else "white")
    ax.set_yticks(np.arange(7) + 0.5)
    ax.set_yticklabels(WEEKDAYS, rotation=0)
    ax.set_xlabel("hour of day (local time)")
    ax.set_ylabel("")
    ax.set_title("When posts were published (counts; descriptive, not an effect)")
    return ax


class _ReferenceRanked:
    """The ranked-posts frame as it was before (one object-column frame of every post), behind the new API."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.whole = frame

    def __len__(self) -> int:
        return len(self.whole)

    def frame(self, start: int, stop: int, *, arrow: bool = False) -> pd.DataFrame:
        return self.whole.iloc[start:stop]

    def n_platforms(self) -> int:
        return self.whole["platform"].nunique()

    def chunks(self):
        yield self.whole


def _report_stage(dataset_dir: Path, run: Path) -> dict[str, bytes]:
    """Notebook 05's calls; the bytes of every file the stage writes (the figures under ``figures/NAME``)."""
    ds, paths = pipeline.open_run(dataset_dir, run)
    found = compute_findings(paths.root, ds, today=TODAY)
    write_findings(found)
    render_report(paths.root, dataset=ds, findings=found, today=TODAY)
    out = {name: (run / name).read_bytes() for name in OUTPUTS if (run / name).is_file()}
    return out | {f"figures/{png.name}": png.read_bytes() for png in sorted(paths.figures.glob("*.png"))}


def _with_reference(monkeypatch, dataset_dir: Path, run: Path) -> dict[str, bytes]:
    with monkeypatch.context() as m:
        m.setattr(appendix, "_rank_posts", lambda ctx: None if (f := _reference(ctx)) is None else _ReferenceRanked(f))
        m.setattr(appendix, "write_csv_chunks",
                  lambda path, chunks, *, whole, neutralize=True: io.write_bytes(path, _pandas_csv(whole())))
        m.setattr(extras, "_full_posts", lambda paths, outcomes=None, posts=None: (
            pd.read_parquet(paths.posts_coded) if paths.posts_coded.is_file() else None))
        m.setattr(render, "_figure_png", _reference_figure_png)
        m.setattr(appendix, "plot_posting_heatmap", _reference_posting_heatmap)
        return _report_stage(dataset_dir, run)


_INLINE_PNG = re.compile(rb'data:image/png;base64,([A-Za-z0-9+/=]+)')
_FIGURE = re.compile(r'<figure><img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">'
                     r"<figcaption>(.*?)</figcaption></figure>", flags=re.DOTALL)


def _without_images(page: bytes) -> bytes:
    return _INLINE_PNG.sub(b"data:image/png;base64,PNG", page)


def _png_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(stdio.BytesIO(png)) as image:
        assert image.format == "PNG"
        image.load()  # decodes every pixel: a truncated or corrupt PNG raises here
        return image.size


def _figures(page: bytes) -> list[tuple[str, str, tuple[int, int], bytes]]:
    """Each inline figure of a report: alt text, caption, pixel size, PNG bytes (in page order)."""
    return [(html.unescape(alt), html.unescape(caption), _png_size(png := base64.b64decode(data)), png)
            for data, alt, caption in _FIGURE.findall(page.decode("utf-8"))]


@pytest.fixture(params=["no_models", "full"])
def stage_run(request, example_run, full_run) -> tuple[Path, Path]:
    return example_run if request.param == "no_models" else full_run


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


@pytest.mark.parametrize("hostile", [False, True])
def test_the_report_stage_writes_the_bytes_the_reference_wrote(stage_run, tmp_path, monkeypatch, hostile):
    dataset_dir, run = stage_run
    fast_run, ref_run = _copy(run, tmp_path / "fast"), _copy(run, tmp_path / "ref")
    if hostile:
        for folder in (fast_run, ref_run):
            path = folder / "data" / "posts_coded.parquet"
            posts = pd.read_parquet(path)
            rng = np.random.default_rng(3)
            posts["text"] = [TEXTS[i] for i in rng.integers(0, len(TEXTS), len(posts))]
            posts.loc[posts.index[::7], "impressions"] = pd.NA
            posts.to_parquet(path)
    fast = _report_stage(dataset_dir, fast_run)
    ref = _with_reference(monkeypatch, dataset_dir, ref_run)
    assert set(fast) == set(ref) and {"report.html", "report_posts.csv", "results/findings.json"} <= set(fast)
    for name in ref:
        if name.startswith("figures/"):
            continue  # drawn differently (see test_the_report_embeds_the_figures_the_reference_embedded)
        if name == "report.html":
            assert _without_images(fast[name]) == _without_images(ref[name])
            assert _INLINE_PNG.search(fast[name])  # the posting-time heatmap at least
        else:
            assert fast[name] == ref[name], name
    assert (b"\r" in fast["report_posts.csv"]) == hostile  # the hostile run takes the whole-frame fallback


def test_the_report_embeds_the_figures_the_reference_embedded(full_run, tmp_path, monkeypatch):
    """Same figures (file names, alt texts, captions, order), each a whole PNG of the previous pixel size, the
    inline copy the same bytes as results/figures/NAME.png."""
    dataset_dir, run = full_run
    fast = _report_stage(dataset_dir, _copy(run, tmp_path / "fast"))
    ref = _with_reference(monkeypatch, dataset_dir, _copy(run, tmp_path / "ref"))
    names = sorted(name for name in fast if name.startswith("figures/"))
    assert names == sorted(name for name in ref if name.startswith("figures/"))
    assert {"figures/forest_impressions.png", "figures/forest_engagements.png", "figures/growth.png",
            "figures/monthly.png", "figures/posting_heatmap.png", "figures/publications_attention.png"} <= set(names)
    new, old = _figures(fast["report.html"]), _figures(ref["report.html"])
    assert len(new) == len(old) >= 6
    assert [(alt, caption) for alt, caption, _, _ in new] == [(alt, caption) for alt, caption, _, _ in old]
    assert [size for _, _, size, _ in new] == [size for _, _, size, _ in old]
    files = {fast[name]: name for name in names}
    assert all(png in files for _, _, _, png in new)  # every inline figure is a file of results/figures
    for name in names:
        assert _png_size(fast[name]) == _png_size(ref[name]), name

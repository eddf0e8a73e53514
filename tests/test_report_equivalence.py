"""The report stage's outputs from the fast paths (ranked posts a slice at a time in Arrow, report_posts.csv in
slices, the extras reusing the posts the findings read) are byte for byte those of the implementations they
replaced, on the example dataset as the pipeline codes it and on the same run with hostile texts (mentions,
formula prefixes, a carriage return, links, long texts)."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import coding, features, ingest, io, pipeline, results
from workbench.findings import compute_findings, extras, write_findings
from workbench.report import appendix, render_report

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
    ds, paths = pipeline.open_run(REPO / "data" / "example", run)
    settings = results.coding_settings(ds)
    result = ingest.read_exports(ds, binary_codes=settings["binary_codes"])
    ingest.write_ingest_outputs(result, data_dir=paths.data, results_dir=paths.results)
    posts, account, codes = results.load_ingested(paths)
    auto = features.code_features(posts, account=account, timezone=ds.timezone,
                                  research_domains=settings["research_domains"])
    coded, info = coding.merge_codes(auto, codes, codebook=settings["codebook"])
    reliability = coding.compute_reliability(codes, n_boot=20, seed=1, codebook=settings["codebook"])
    results.save_coding(paths, posts_coded=coded, coding_info=info, reliability=reliability)
    return REPO / "data" / "example", run


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
    """Notebook 05's calls; the bytes of every file the stage writes."""
    ds, paths = pipeline.open_run(dataset_dir, run)
    found = compute_findings(paths.root, ds, today=TODAY)
    write_findings(found)
    render_report(paths.root, dataset=ds, findings=found, today=TODAY)
    return {name: (run / name).read_bytes() for name in OUTPUTS if (run / name).is_file()}


def _with_reference(monkeypatch, dataset_dir: Path, run: Path) -> dict[str, bytes]:
    with monkeypatch.context() as m:
        m.setattr(appendix, "_rank_posts", lambda ctx: None if (f := _reference(ctx)) is None else _ReferenceRanked(f))
        m.setattr(appendix, "write_csv_chunks",
                  lambda path, chunks, *, whole, neutralize=True: io.write_bytes(path, _pandas_csv(whole())))
        m.setattr(extras, "_full_posts", lambda paths, outcomes=None, posts=None: (
            pd.read_parquet(paths.posts_coded) if paths.posts_coded.is_file() else None))
        return _report_stage(dataset_dir, run)


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


@pytest.mark.parametrize("hostile", [False, True])
def test_the_report_stage_writes_the_bytes_the_reference_wrote(example_run, tmp_path, monkeypatch, hostile):
    dataset_dir, run = example_run
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
        assert fast[name] == ref[name], name
    assert (b"\r" in fast["report_posts.csv"]) == hostile  # the hostile run takes the whole-frame fallback

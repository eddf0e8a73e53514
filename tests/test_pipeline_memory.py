"""What the runner itself holds at scale (issue 14): the data checks after ingest read parquet statistics, not the
column; the same dates as reading the column, whatever the file looks like."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench import pipeline


def _read_min_max(path, column):
    import pyarrow.compute as pc

    col = pq.read_table(path, columns=[column]).column(column)
    if len(col) == 0 or col.null_count == len(col):
        return None
    mm = pc.min_max(col)
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    return (lo.date() if isinstance(lo, dt.datetime) else lo, hi.date() if isinstance(hi, dt.datetime) else hi)


CASES = {
    "utc, one row group": pa.array([dt.datetime(2021, 3, 1, 23, 59), dt.datetime(2020, 1, 1, 0, 0)],
                                   pa.timestamp("ns", tz="UTC")),
    "utc, nulls": pa.array([None, dt.datetime(2022, 5, 5), None, dt.datetime(2019, 12, 31, 23)],
                           pa.timestamp("ns", tz="UTC")),
    "naive": pa.array([dt.datetime(2020, 2, 29), dt.datetime(2024, 1, 1)], pa.timestamp("ns")),
    "date32": pa.array([dt.date(2020, 1, 5), dt.date(2021, 7, 1)], pa.date32()),
    "all null": pa.array([None, None], pa.timestamp("ns", tz="UTC")),
    "empty": pa.array([], pa.timestamp("ns", tz="UTC")),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("row_group_size", [1, 1000])
def test_dates_from_statistics_equal_the_column_read(tmp_path, case, row_group_size):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"published_at": CASES[case]}), path, row_group_size=row_group_size)
    expected = _read_min_max(path, "published_at")
    got = pipeline._parquet_min_max(path, "published_at")
    assert got is None or got == expected  # None: the caller reads the column
    if expected is not None and row_group_size > len(CASES[case]):
        assert got == expected  # one row group with statistics: nothing read (a null-only group falls back)


def test_dates_without_statistics_fall_back_to_the_column(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"published_at": CASES["utc, nulls"]}), path, write_statistics=False)
    assert pipeline._parquet_min_max(path, "published_at") is None
    paths = pipeline.RunPaths(tmp_path)
    (tmp_path / "data").mkdir()
    path.rename(paths.posts)
    assert pipeline._date_range(paths) == _read_min_max(paths.posts, "published_at")


def test_missing_column_or_file_is_none(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1]}), path)
    assert pipeline._parquet_min_max(path, "published_at") is None
    assert pipeline._parquet_min_max(tmp_path / "absent.parquet", "published_at") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc is chosen on Linux only")
def test_arrow_allocates_with_jemalloc_unless_the_user_chose():
    """workbench sets Arrow's allocator before pyarrow is imported (it is faster at 1M posts, see
    workbench/__init__.py); a user's own ARROW_DEFAULT_MEMORY_POOL is kept."""
    code = "import workbench, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k not in ("ARROW_DEFAULT_MEMORY_POOL", "JE_ARROW_MALLOC_CONF")}
    run = partial(subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run(env=env).stdout.strip() == "jemalloc"
    assert run(env={**env, "ARROW_DEFAULT_MEMORY_POOL": "system"}).stdout.strip() == "system"


def test_checks_after_ingest_read_ingest_log_and_agree_with_the_parquet_files(tmp_path):
    """Ingest writes the dates its tables cover and the codes found into ingest_log.json; the runner's checks read
    them there (no pyarrow or pandas in the runner between ingest and the next stage) and get what the parquet
    files say, on the example dataset with its interventions, account rows and coding files."""
    import json
    from pathlib import Path

    from workbench import ingest, results

    repo = Path(__file__).resolve().parents[1]
    ds, paths = pipeline.open_run(repo / "data" / "example", tmp_path / "run")
    result = ingest.read_exports(ds, binary_codes=results.coding_settings(ds)["binary_codes"])
    ingest.write_ingest_outputs(result, data_dir=paths.data, results_dir=paths.results)
    log = json.loads((paths.results / "ingest_log.json").read_text())
    spans = [s for s in (_read_min_max(paths.posts, "published_at"), _read_min_max(paths.account, "date")) if s]
    assert pipeline._date_range(paths) == (min(a for a, _ in spans), max(b for _, b in spans))
    codes = pq.read_table(paths.codes, columns=["code"]).column("code").drop_null().to_pylist()
    assert log["manual_codes"] == sorted(set(codes)) and log["manual_codes"]
    assert log["date_range"]["posts"] == [d.isoformat() for d in _read_min_max(paths.posts, "published_at")]
    # the runner process: the checks load neither pyarrow nor pandas
    code = (f"import sys\nfrom workbench import pipeline\nds = pipeline.load_dataset({str(ds.root)!r})\n"
            f"from pathlib import Path\npaths = pipeline.RunPaths(Path({str(paths.root)!r}))\n"
            "pipeline.check_ingested(ds, paths, ['has_poll'])\nprint(pipeline._date_range(paths))\n"
            "print(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[-1] == "[]"
    # a log without these keys (an older run folder): the parquet files are read, with the same answer
    del log["date_range"], log["manual_codes"]
    (paths.results / "ingest_log.json").write_text(json.dumps(log))
    assert pipeline._date_range(paths) == (min(a for a, _ in spans), max(b for _, b in spans))
    # an intervention outside the covered dates is still refused, naming the range
    first, last = pipeline._date_range(paths)
    late = dataclasses.replace(ds.interventions[0], date=last + dt.timedelta(days=3))
    with pytest.raises(pipeline.DatasetCardError, match=f"covers {first} to {last}"):
        pipeline.check_ingested(dataclasses.replace(ds, interventions=(late,)), paths)

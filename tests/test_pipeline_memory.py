"""What the runner itself holds at scale (issue 14): the data checks after ingest read parquet statistics, not the
column; the same dates as reading the column, whatever the file looks like."""

from __future__ import annotations

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

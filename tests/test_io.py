"""Atomic writes: the old file survives a failed write; no temp files are left behind."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from workbench import io


def test_write_json_replaces_nan_with_null(tmp_path):
    p = io.write_json(tmp_path / "a.json", {"x": math.nan, "y": [1.5, float("inf")], "z": pd.Timestamp("2021-01-01")})
    assert json.loads(p.read_text()) == {"x": None, "y": [1.5, None], "z": "2021-01-01T00:00:00"}


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.txt"
    io.write_text(target, "old")

    def boom(path):
        path.write_text("half")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        io._write_with(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_parquet_and_csv_roundtrip(tmp_path):
    df = pd.DataFrame({"post_id": pd.array(["1", "2"], dtype="string"), "n": pd.array([1, None], dtype="Int64")})
    io.write_parquet(tmp_path / "d" / "a.parquet", df)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "d" / "a.parquet"), df)
    io.write_csv(tmp_path / "a.csv", df)
    assert (tmp_path / "a.csv").read_text().splitlines() == ["post_id,n", "1,1", "2,"]


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    p = io.write_text(tmp_path / "perm.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask

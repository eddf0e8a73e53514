"""Adversarial inputs (issue 11, and the runner's part of issue 10): each case has its own synthetic input.

Bad input must give a message and exit 2, a failed stage exit 1, never a traceback; nothing outside the dataset
folder is read; nothing stale is reported as up to date. No test here starts a kernel: the notebooks are replaced
by a fake executor where a run is needed.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import yaml

matplotlib.use("Agg")

from workbench import cli, pipeline  # noqa: E402
from workbench import ingest as ingest_mod  # noqa: E402
from workbench import io as wio  # noqa: E402
from workbench.dataset import load_dataset  # noqa: E402
from workbench.errors import DatasetCardError, InputError, StageError  # noqa: E402
from workbench.ingest import (
    rawcsv,  # noqa: E402
    read_files,  # noqa: E402
)

REPO = Path(__file__).resolve().parents[1]
QUIET = {"echo": lambda s: None}

# a generic account sheet: the smallest export the ingest stage reads (date + one account metric)
ACCOUNT_CSV = "date,followers\n2022-01-01,100\n2022-02-01,120\n2022-03-01,150\n"


def make_dataset(folder: Path, card: dict | None = None, *, raw: str = ACCOUNT_CSV) -> Path:
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    (folder / "raw" / "posts.csv").write_text(raw)
    base = {"name": "demo", "posts": ["raw/*.csv"]}
    (folder / "dataset.yml").write_text(yaml.safe_dump({**base, **(card or {})}, sort_keys=False))
    return folder


class FakeExecutor:
    """Writes each stage's products without a kernel: real parquet tables for ingest (dates and codes that the
    data-dependent checks read), text for the rest. Can fail at one stage."""

    def __init__(self, *, fail_at: str | None = None, dates=("2022-01-05", "2022-06-30"), codes=("tone",)):
        self.calls: list[str] = []
        self.fail_at = fail_at
        self.dates = dates
        self.codes = codes

    def __call__(self, stage, *, ds, paths, parameters):
        self.calls.append(stage.name)
        if stage.name == self.fail_at:
            raise StageError(f"stage '{stage.name}' failed in cell 4 of {stage.notebook}: KeyError: 'x'",
                             stage=stage.name, cell=4, notebook=stage.notebook, error="KeyError: 'x'")
        if stage.name == "ingest":
            paths.data.mkdir(parents=True, exist_ok=True)
            paths.results.mkdir(parents=True, exist_ok=True)
            ts = pd.to_datetime(list(self.dates), utc=True)
            pd.DataFrame({"post_id": ["1", "2"], "published_at": ts}).to_parquet(paths.posts)
            pd.DataFrame({"date": ts.tz_localize(None), "followers": [1, 2]}).to_parquet(paths.account)
            pd.DataFrame({"post_id": ["1"], "coder": ["a"], "code": list(self.codes)[:1] or ["x"],
                          "value": ["1"]}).to_parquet(paths.codes)
            paths.quarantine.write_text("source_file,source_row,reason\n")
            paths.ingest_log.write_text("{}")
            return
        for attr in stage.writes:
            p: Path = getattr(paths, attr)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"{stage.name}:{attr}")


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    rc = cli.main(args)
    out, err = capsys.readouterr()
    return rc, out, err


# ---- 11.1 stale results ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "rerun"),
    [
        ({"analysis": {"predictors": ["has_url", "n_hashtags"]}}, ["regression", "report"]),
        ({"title": "Another title"}, ["report"]),
        ({"interventions": [{"date": "2022-03-01", "label": "Designer joined"}]}, ["growth", "report"]),
        ({"goals": [{"metric": "followers", "target": 500, "by": "2023-01-01"}]}, ["report"]),
        ({"timezone": "Europe/Berlin"}, ["features", "regression", "growth", "publications", "report"]),
    ],
)
def test_card_change_reruns_the_stages_that_read_it(tmp_path, change, rerun):
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "run"
    pipeline.run_pipeline(ds, out=out, executor=FakeExecutor(), **QUIET)
    card = yaml.safe_load((ds / "dataset.yml").read_text())
    (ds / "dataset.yml").write_text(yaml.safe_dump({**card, **change}))

    class ChangingProducts(FakeExecutor):  # features' output depends on the timezone in a real run
        def __call__(self, stage, *, ds, paths, parameters):
            super().__call__(stage, ds=ds, paths=paths, parameters=parameters)
            if stage.name == "features":
                paths.posts_coded.write_text(f"features:{ds.timezone}")

    ex = ChangingProducts()
    pipeline.run_pipeline(ds, out=out, executor=ex, **QUIET)
    assert ex.calls == rerun
    # and a comment or a reordering of the card re-runs nothing
    (ds / "dataset.yml").write_text("# a comment\n" + yaml.safe_dump({**card, **change}, sort_keys=True))
    ex = FakeExecutor()
    pipeline.run_pipeline(ds, out=out, executor=ex, **QUIET)
    assert ex.calls == []


def test_every_card_key_is_hashed_by_some_stage(tmp_path):
    ds = load_dataset(make_dataset(tmp_path / "ds"))
    report = next(s for s in pipeline.STAGES if s.name == "report")
    parts = pipeline.card_parts(report, ds)
    from workbench.dataset import TOP_KEYS

    for key in TOP_KEYS:
        assert any(p == f"card:{key}" or p.startswith(f"card:{key}.") for p in parts), key


def test_same_name_datasets_cannot_share_a_run_folder(tmp_path, capsys):
    first = make_dataset(tmp_path / "first", {"title": "First network"})
    second = make_dataset(tmp_path / "second", {"title": "Second network"})
    out = tmp_path / "run"
    pipeline.run_pipeline(first, out=out, executor=FakeExecutor(), **QUIET)
    ex = FakeExecutor()
    with pytest.raises(InputError, match=r"holds the results of dataset 'demo' from .*first.*not of .*second"):
        pipeline.run_pipeline(second, out=out, executor=ex, **QUIET)
    assert ex.calls == []
    assert json.loads((out / "manifest.json").read_text())["dataset"]["folder"] == str(first.resolve())
    # the notebooks' own entry point refuses it too
    with pytest.raises(InputError, match="holds the results of dataset"):
        pipeline.open_run(second, out)
    rc, _, err = run_cli(["run", str(second), "--out", str(out)], capsys)
    assert rc == 2 and "Traceback" not in err


def test_run_folder_lock_refuses_a_second_writer(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "run"
    inner: list[str] = []

    def nested(stage, *, ds, paths, parameters):  # a second run starting while the first is running
        if stage.name == "ingest":
            try:
                pipeline.run_pipeline(ds.root, out=out, executor=FakeExecutor(), **QUIET)
            except InputError as exc:
                inner.append(str(exc))
        FakeExecutor()(stage, ds=ds, paths=paths, parameters=parameters)

    pipeline.run_pipeline(ds, out=out, executor=nested, **QUIET)
    assert inner and "another workbench run is writing" in inner[0]
    pipeline.run_pipeline(ds, out=out, executor=FakeExecutor(), **QUIET)  # released afterwards


# ---- 11.5 CSV formula injection --------------------------------------------------------------------------------


def test_csv_formula_injection_neutralized(tmp_path):
    df = pd.DataFrame({
        "raw": ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", None, "＝1"],
        "n": [-1.5, 2, 3, 4, 5, 6, 7, 8, 9],
    })
    wio.write_csv(tmp_path / "q.csv", df)
    back = pd.read_csv(tmp_path / "q.csv", keep_default_na=False)
    assert back["raw"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx",
                                    "plain", "", "'＝1"]
    assert back["n"].tolist()[0] == -1.5  # numbers stay numbers
    assert df["raw"].iloc[0].startswith("=")  # the caller's frame is not modified


def test_quarantine_csv_neutralizes_formulas(tmp_path):
    f = tmp_path / "sheet.csv"
    f.write_text('date,followers\n2022-01-01,100\n2022-01-02,"=cmd|\' /C calc\'!A0"\n2022-01-03,@SUM(1)\n')
    result = read_files([f], root=tmp_path)
    assert len(result.quarantine) == 2
    ingest_mod.write_ingest_outputs(result, data_dir=tmp_path / "out", results_dir=tmp_path / "out")
    text = (tmp_path / "out" / "quarantine.csv").read_text()
    assert "'=cmd" in text and "'@SUM(1)" in text
    assert ",=cmd" not in text and ",@SUM" not in text


# ---- 11.6 YAML -------------------------------------------------------------------------------------------------

ALIAS_BOMB = """name: demo
posts: [raw/*.csv]
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_refused(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds")
    (ds / "dataset.yml").write_text(ALIAS_BOMB)
    t0 = time.perf_counter()
    rc, _, err = run_cli(["run", str(ds)], capsys)
    assert time.perf_counter() - t0 < 5
    assert rc == 2 and "anchors (&a) are not allowed" in err and "Traceback" not in err


def test_yaml_alias_refused(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    (ds / "dataset.yml").write_text("name: demo\nposts: [raw/*.csv]\ntitle: *x\n")
    with pytest.raises(DatasetCardError, match=r"line 3, column 8: .*not allowed"):
        load_dataset(ds)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name: demo\nposts: [raw/*.csv]\ntitle: " + "x" * 20_000 + "\n", r"value of 20,000 characters"),
        ("name: demo\nposts: [raw/*.csv]\ntitle: " + "[" * 200 + "]" * 200 + "\n", r"nested more than 20 deep"),
        ("name: demo\nposts: [raw/*.csv]\nname: other\n", r"key 'name' is given twice"),
        ("name: demo\nposts: [raw/*.csv]\ntitle: !!python/object:os.system x\n", r"not valid YAML"),
    ],
    ids=["long-value", "deep-nesting", "duplicate-key", "python-tag"],
)
def test_yaml_sizes_and_constructs_bounded(tmp_path, text, match):
    ds = make_dataset(tmp_path / "ds")
    (ds / "dataset.yml").write_text(text)
    with pytest.raises(DatasetCardError, match=match):
        load_dataset(ds)


def test_codebook_alias_bomb_refused(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"codebook": "codebook.yml"})
    (ds / "codebook.yml").write_text(ALIAS_BOMB.replace("name: demo\nposts: [raw/*.csv]\n", "codes: []\n"))
    t0 = time.perf_counter()
    with pytest.raises(DatasetCardError, match=r"codebook\.yml: line 2, column 4: YAML anchors"):
        load_dataset(ds).codebook_path()
    assert time.perf_counter() - t0 < 5


def test_oversize_card_refused_unread(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    (ds / "dataset.yml").write_text("name: demo\nposts: [raw/*.csv]\n# " + "x" * 400_000 + "\n")
    with pytest.raises(DatasetCardError, match=r"at most 262,144 bytes"):
        load_dataset(ds)


def test_long_timezone_refused(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", {"timezone": "America/" + "X" * 300})
    rc, _, err = run_cli(["run", str(ds)], capsys)
    assert rc == 2 and "is not an IANA zone name" in err and "Traceback" not in err and len(err) < 600


# ---- 11.7 paths leave the dataset folder ----------------------------------------------------------------------


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside the dataset folder whose content must never be read or shown."""
    f = tmp_path / "secret.csv"
    f.write_text("SECRET-TOKEN,hunter2\n1,2\n")
    return f


@pytest.mark.parametrize(
    "pattern",
    ["../secret.csv", "raw/../../secret.csv", "/etc/passwd", "/**/secret.csv", "~/x.csv", "..\\secret.csv",
     "C:\\Users\\x.csv"],
)
def test_card_glob_outside_the_folder_refused(tmp_path, secret, pattern, capsys):
    ds = make_dataset(tmp_path / "ds", {"posts": [pattern]})
    rc, out, err = run_cli(["run", str(ds)], capsys)
    assert rc == 2, err
    assert "SECRET" not in out + err and "hunter2" not in out + err and "root:" not in out + err
    assert "absolute" in err or "'..'" in err


@pytest.mark.parametrize("key", ["account", "codes", "codebook"])
def test_every_card_path_key_is_checked(tmp_path, secret, key):
    value = "../secret.csv" if key == "codebook" else ["../secret.csv"]
    with pytest.raises(DatasetCardError, match=r"uses '\.\.'"):
        load_dataset(make_dataset(tmp_path / "ds", {key: value}))


def test_card_symlink_leading_outside_refused(tmp_path, secret, capsys):
    ds = make_dataset(tmp_path / "ds", {"posts": ["raw/*.csv"]})
    (ds / "raw" / "link.csv").symlink_to(secret)
    rc, out, err = run_cli(["run", str(ds)], capsys)
    assert rc == 2 and "leads outside the dataset folder" in err
    assert "SECRET" not in out + err


def test_linked_exports_folder_still_read_in_place(tmp_path):
    exports = tmp_path / "elsewhere"
    exports.mkdir()
    (exports / "sheet.csv").write_text(ACCOUNT_CSV)
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "raw").symlink_to(exports, target_is_directory=True)
    (ds / "dataset.yml").write_text(yaml.safe_dump({"name": "demo", "posts": ["raw/*.csv"]}))
    assert [p.name for p in load_dataset(ds).post_files()] == ["sheet.csv"]
    # but a linked folder that opens the filesystem (a link to / or to an ancestor) does not count
    (ds / "raw").unlink()
    (ds / "raw").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "above.csv").write_text(ACCOUNT_CSV)
    with pytest.raises(DatasetCardError, match="leads outside the dataset folder"):
        load_dataset(ds).post_files()


# ---- 11.8 zip -------------------------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_of_many_small_members_refused(tmp_path):
    # 60 members of 1 MiB of zeros: each passes the per-member ratio grace, the archive does not
    z = _zip(tmp_path / "many.zip", {f"m{i}.csv": b"\0" * 1024**2 for i in range(60)})
    assert z.stat().st_size < 200_000
    with pytest.raises(InputError, match=r"members are compressed [\d,]+-fold in all") as err:
        read_files([z], root=tmp_path)
    assert err.value.file == "many.zip"


def test_zip_member_count_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_mod, "ZIP_MAX_MEMBERS", 5)
    z = _zip(tmp_path / "count.zip", {f"m{i}.csv": ACCOUNT_CSV.encode() for i in range(6)})
    with pytest.raises(InputError, match=r"has 6 entries, more than the 5"):
        read_files([z], root=tmp_path)


def test_zip_total_size_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_mod, "ZIP_MAX_TOTAL_BYTES", 2 * len(ACCOUNT_CSV))
    z = _zip(tmp_path / "total.zip", {f"m{i}.csv": ACCOUNT_CSV.encode() for i in range(3)})
    with pytest.raises(InputError, match=r"unpacks to [\d,]+ bytes in all"):
        read_files([z], root=tmp_path)


def test_zip_streaming_byte_budget(tmp_path):
    z = _zip(tmp_path / "b.zip", {"a.csv": ACCOUNT_CSV.encode()})
    with zipfile.ZipFile(z) as archive:
        info = archive.getinfo("a.csv")
        with pytest.raises(InputError, match="more than the"):
            ingest_mod._copy_member(archive, info, tmp_path / "out.csv", label="b.zip!a.csv", budget=10)
        assert ingest_mod._copy_member(archive, info, tmp_path / "ok.csv", label="b.zip!a.csv") == len(ACCOUNT_CSV)


# ---- 11.9 invalid cards: message and exit 2 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "match"),
    [
        ({"interventions": [{"date": "2022-13-45", "label": "x"}]}, r"interventions\[0\]\.date must be a date"),
        ({"interventions": "2022-01-01"}, r"'interventions' must be a list of maps"),
        ({"goals": 5}, r"'goals' must be a list of maps"),
        ({"goals": [{"metric": "followers", "target": 10, "by": "2022-02-30"}]}, r"goals\[0\]\.by must be a date"),
        ({"title": ["a", "b"]}, r"title must be a text"),
        ({"name": 2024}, None),
        ({"account": 5}, r"'account' must be a list"),
        ({"account": [{"path": "raw/posts.csv", "columns": ["a"]}]}, r"account columns must map"),
        ({"analysis": ["x"]}, r"'analysis' must be a map"),
        ({"analysis": {"growth_metric": ["followers"]}}, r"growth_metric must be a text"),
        ({"analysis": {"hac_maxlags": True}}, r"hac_maxlags must be a whole number"),
        ({"analysis": {"equivalence_margin": ["a", "b"]}}, r"equivalence_margin"),
        ({"posts": {"a": 1}}, r"'posts' must be a string or a list"),
        ({"posts": []}, r"'posts' must name at least one"),
        ({"timezone": 5}, r"timezone must be a text"),
        ({"interventions": [{"date": 20220101}]}, r"must be a date"),
        ({"interventions": [{"date": "2022-01-01", "label": {"a": 1}}]}, r"label must be a text"),
    ],
)
def test_invalid_card_values_exit_2_with_a_message(tmp_path, capsys, card, match):
    ds = make_dataset(tmp_path / "ds", card)
    rc, _, err = run_cli(["run", str(ds), "--out", str(tmp_path / "run")], capsys)
    assert "Traceback" not in err
    if match is None:  # a number used as a name is a valid name
        assert load_dataset(ds).name == "2024"
        return
    assert rc == 2, err
    assert __import__("re").search(match, err), err


def test_codebook_naming_a_folder_exits_2(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", {"codebook": "raw"})
    rc, _, err = run_cli(["run", str(ds)], capsys)
    assert rc == 2 and "codebook 'raw' is a folder" in err


def test_utf16_card_with_bom_is_read_and_without_bom_named(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds")
    text = "name: demo\ntitle: Réseau\nposts: [raw/*.csv]\n"
    (ds / "dataset.yml").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert load_dataset(ds).title == "Réseau"
    (ds / "dataset.yml").write_bytes(text.encode("utf-16-le"))
    rc, _, err = run_cli(["run", str(ds)], capsys)
    assert rc == 2 and "UTF-16 without a byte-order mark" in err
    (ds / "dataset.yml").write_bytes(text.encode("cp1252"))
    with pytest.raises(DatasetCardError, match=r"not UTF-8 \(byte \d+"):
        load_dataset(ds)


def test_card_that_is_a_fifo_or_missing_exits_2(tmp_path, capsys):
    folder = tmp_path / "ds"
    folder.mkdir()
    os.mkfifo(folder / "dataset.yml")
    rc, _, err = run_cli(["run", str(folder)], capsys)
    assert rc == 2 and "not a regular file" in err
    rc, _, err = run_cli(["run", str(tmp_path / "nowhere")], capsys)
    assert rc == 2 and "no dataset card" in err


# ---- 11.10 the environment fails: read-only output, full disk, devices, FIFOs ----------------------------------


def test_unwritable_out_exits_2(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = run_cli(["run", str(ds), "--out", str(blocker / "run")], capsys)
    assert rc == 2 and "cannot write to the run folder" in err and "Traceback" not in err


def test_read_only_out_exits_2(tmp_path, capsys, monkeypatch):
    ds = make_dataset(tmp_path / "ds")

    def denied(*a, **k):  # the tests may run as root, for whom chmod does not make a folder read-only
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(pipeline.tempfile, "mkstemp", denied)
    rc, _, err = run_cli(["run", str(ds), "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and "Permission denied" in err and "give a writable folder" in err


def test_ingest_read_only_out_exits_2(tmp_path, capsys):
    f = tmp_path / "sheet.csv"
    f.write_text(ACCOUNT_CSV)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = run_cli(["ingest", str(f), "--out", str(blocker / "out")], capsys)
    assert rc == 2 and "cannot write to" in err and "Traceback" not in err


def test_disk_full_writing_the_manifest_exits_1(tmp_path, capsys, monkeypatch):
    ds = make_dataset(tmp_path / "ds")

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "write_json", full)
    with pytest.raises(StageError, match=r"cannot write .*manifest\.json \(No space left on device\)"):
        pipeline.run_pipeline(ds, out=tmp_path / "run", executor=FakeExecutor(), **QUIET)
    rc, _, err = run_cli(["run", str(ds), "--out", str(tmp_path / "run")], capsys)
    assert rc == 1 and "No space left on device" in err and "Traceback" not in err


def test_ingest_dev_zero_refused(capsys):
    rc, _, err = run_cli(["ingest", "/dev/zero", "--out", "/nonexistent"], capsys)
    assert rc == 2 and "is a device, not a file" in err


def test_ingest_fifo_refused_without_hanging(tmp_path):
    fifo = tmp_path / "exports.csv"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "ingest", str(fifo), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2 and "is a FIFO (named pipe), not a file" in proc.stderr


def test_card_glob_matching_a_fifo_refused_unopened(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    os.mkfifo(ds / "raw" / "pipe.csv")
    with pytest.raises(DatasetCardError, match=r"matches 'raw/pipe\.csv', which is not a regular file"):
        load_dataset(ds).post_files()


def test_ingest_accepts_a_folder(tmp_path, capsys):
    raw = tmp_path / "raw"
    (raw / "2022").mkdir(parents=True)
    (raw / "a.csv").write_text(ACCOUNT_CSV)
    (raw / "2022" / "b.csv").write_text("date,followers\n2022-04-01,160\n")
    (raw / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    rc, out, err = run_cli(["ingest", str(raw), "--out", str(tmp_path / "o")], capsys)
    assert rc == 0, err
    assert "4 account rows" in out
    rc, _, err = run_cli(["ingest", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "no such file or folder" in err


# ---- 11.11 labels drawn literally -----------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["$\\frac{1}{$", "Saved $5k then $10k", "_hidden", "a\\$b"])
def test_mathtext_labels_drawn_literally(label):
    from matplotlib.figure import Figure

    from workbench.plots import plot_growth, plot_monthly

    growth = {
        "metric": "followers",
        "series": [{"date": "2022-01-01", "value": 1, "period": "before"},
                   {"date": "2022-03-01", "value": 3, "period": label}],
        "periods": [{"label": "before", "start": "2022-01-01", "end": "2022-02-01"},
                    {"label": label, "start": "2022-02-01", "end": "2022-03-01"}],
        "interventions": [{"date": "2022-02-01", "label": label}],
        "monthly_series": [{"month": "2022-01-01", "impressions": 5, "period": "before"},
                           {"month": "2022-03-01", "impressions": 7, "period": label}],
        "monthly_metric": "impressions",
    }
    fig = Figure()
    ax = fig.add_subplot(1, 2, 1)
    plot_growth(growth, ax=ax)
    plot_monthly(growth, ax=fig.add_subplot(1, 2, 2))
    fig.canvas.draw()  # the mathtext parser would raise here
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    shown = [t._preprocess_math(t.get_text()) for t in texts]
    assert all(math is False for _, math in shown)
    drawn = {s.lstrip("\u2009") for s, _ in shown}
    assert label in drawn  # the annotation reads exactly as written
    assert any(label in s for s, _ in shown if s.startswith("observed"))


# ---- 11.12 and 10.10: a stage error keeps its whole message and the cell's position ---------------------------


def _fake_papermill_failure(monkeypatch, *, cell_index: int, evalue: str):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    def execute(src, out, **kwargs):
        nb = json.loads(Path(src).read_text())
        cells = nb["cells"]
        at = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        cells.insert(at + 1, {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "x = 1",
                              "outputs": [], "execution_count": None})
        Path(out).write_text(json.dumps(nb))
        execute.kwargs = kwargs
        raise PapermillExecutionError(cell_index, 3, cells[cell_index]["source"], "InputError", evalue, [])

    monkeypatch.setattr(pm, "execute_notebook", execute)
    return execute


def test_stage_error_keeps_first_and_last_lines_and_cell(tmp_path, monkeypatch):
    ds = load_dataset(make_dataset(tmp_path / "ds"))
    stage = next(s for s in pipeline.STAGES if s.name == "growth")
    nb = json.loads(stage.notebook_path.read_text())
    evalue = ("monthly metric 'impresions' is not a column of the account table\n"
              + "\n".join(f"detail {i}" for i in range(20)) + "\nExisting columns: ['date', 'followers']")
    # the failing cell: the one after the injected parameters cell in the executed copy
    target = 4  # 0-based index in the executed notebook; 4th cell of the source notebook
    execute = _fake_papermill_failure(monkeypatch, cell_index=target, evalue=evalue)
    paths = pipeline.RunPaths(tmp_path / "run")
    with pytest.raises(StageError) as err:
        pipeline.execute_stage(stage, ds=ds, paths=paths, parameters={})
    msg = str(err.value)
    assert "monthly metric 'impresions' is not a column" in msg  # first line
    assert "Existing columns: ['date', 'followers']" in msg  # last line
    assert "more lines in the notebook" in msg
    assert f"failed in cell {target} of {stage.notebook}" in msg  # position in the notebook as opened
    first_line = next(line for line in "".join(nb["cells"][target - 1]["source"]).splitlines() if line.strip())
    assert first_line.strip()[:40] in msg
    assert err.value.cell == target and err.value.stage == "growth"
    assert "--log-level=CRITICAL" in execute.kwargs["extra_arguments"]  # the kernel's shutdown noise is silenced


def test_failed_stage_recorded_for_a_later_only_report(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "run"
    with pytest.raises(StageError):
        pipeline.run_pipeline(ds, out=out, executor=FakeExecutor(fail_at="growth"), **QUIET)
    manifest = json.loads((out / "manifest.json").read_text())
    failed = manifest["failed_stages"]["growth"]
    assert failed["cell"] == 4 and failed["notebook"] == "04_growth_comparison.ipynb"
    assert failed["error"] == "KeyError: 'x'" and failed["at"].endswith("Z")
    status = json.loads((out / "results" / "run_status.json").read_text())
    assert status["status"] == "failed" and status["failed_stages"]["growth"]["cell"] == 4
    assert [s["status"] for s in status["stages"]] == ["ran", "ran", "ran", "failed"]
    # --only report afterwards: says which stage failed, and the record stays until growth runs
    (out / "results" / "growth.json").write_text("{}")  # an older growth result left behind
    lines: list[str] = []
    pipeline.run_pipeline(ds, out=out, only=["report"], executor=FakeExecutor(), echo=lines.append)
    assert any("stage 'growth' failed at" in line and "KeyError" in line for line in lines)
    assert "growth" in json.loads((out / "results" / "run_status.json").read_text())["failed_stages"]
    pipeline.run_pipeline(ds, out=out, executor=FakeExecutor(), **QUIET)
    assert json.loads((out / "manifest.json").read_text())["failed_stages"] == {}
    assert json.loads((out / "results" / "run_status.json").read_text())["status"] == "ok"


# ---- 11.13 goal targets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [".nan", ".inf", "-.inf", "true", "1e999"])
def test_goal_target_nan_inf_refused(tmp_path, target):
    ds = make_dataset(tmp_path / "ds")
    (ds / "dataset.yml").write_text("name: demo\nposts: [raw/*.csv]\ngoals:\n"
                                    f"  - {{metric: followers, target: {target}, by: 2023-12-31}}\n")
    with pytest.raises(DatasetCardError, match=r"goals\[0\]\.target must be a (finite )?number"):
        load_dataset(ds)


# ---- 11.14 -p types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "ok"),
    [("n_boot=abc", False), ("n_boot=1.5", False), ("n_boot=true", False), ("n_boot=200", True),
     ("maxlags=3", True), ("maxlags=x", False), ("model_names=['ols_log']", True), ("model_names=5", False)],
)
def test_parameter_type_checked(tmp_path, capsys, param, ok):
    ds = make_dataset(tmp_path / "ds")
    name, value = pipeline.parse_parameter(param)
    if ok:
        pipeline.validate_parameters({name: value})
        return
    with pytest.raises(InputError, match=rf"parameter '{name}' must be"):
        pipeline.validate_parameters({name: value})
    rc, _, err = run_cli(["run", str(ds), "-p", param, "--out", str(tmp_path / "run")], capsys)
    assert rc == 2 and "Traceback" not in err


# ---- 11.15 whole-file errors that name the cause ---------------------------------------------------------------


def test_nul_byte_named(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(b"date,followers\n2022-01-01,100\n2022-01-02,1\x0010\n")
    with pytest.raises(InputError, match=r"1 NUL byte\(s\) \(the first on line 3"):
        read_files([f], root=tmp_path)


def test_utf16_without_bom_named(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(ACCOUNT_CSV.encode("utf-16-le"))
    with pytest.raises(InputError, match=r"UTF-16 \(little-endian\) text without a byte-order mark"):
        read_files([f], root=tmp_path)
    f.write_bytes(ACCOUNT_CSV.encode("utf-16-be"))
    with pytest.raises(InputError, match=r"UTF-16 \(big-endian\)"):
        read_files([f], root=tmp_path)


def test_binary_file_still_called_binary(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(InputError, match="binary data"):
        read_files([f], root=tmp_path)


def test_cr_only_line_ends_read_with_a_warning(tmp_path):
    f = tmp_path / "mac.csv"
    f.write_bytes(ACCOUNT_CSV.replace("\n", "\r").encode())
    result = read_files([f], root=tmp_path)
    assert result.account["followers"].tolist() == [100, 120, 150]
    assert any("CR only" in w for w in result.log["warnings"])


def test_huge_field_named_with_its_lines(tmp_path, monkeypatch):
    # the class of "a 50 MB field": a record larger than Arrow's block (limit lowered to keep the test small)
    monkeypatch.setattr(rawcsv, "MAX_RECORD_BYTES", 64 * 1024)
    f = tmp_path / "a.csv"
    f.write_text('date,followers\n2022-01-01,100\n2022-01-02,"' + "x\n" * 100_000 + '"\n2022-01-03,5\n')
    with pytest.raises(InputError, match=r"longer than") as err:
        read_files([f], root=tmp_path)
    assert "longer than 64 KB (the record starting on line 3 is still open at line" in str(err.value)
    assert "unclosed quote" in str(err.value) and "straddl" not in str(err.value)
    f.write_text("date,followers\n2022-01-01,100\n2022-01-02," + "9" * 200_000 + "\n")
    with pytest.raises(InputError, match=r"longer than 64 KB \(line 3\)"):
        read_files([f], root=tmp_path)


def test_outcome_as_its_own_predictor_refused(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", {"analysis": {"outcomes": ["impressions"], "predictors": ["impressions"]}})
    rc, _, err = run_cli(["run", str(ds)], capsys)
    assert rc == 2 and "'impressions' is both an outcome and a predictor" in err


def test_excel_ids_in_coder_file_reported(tmp_path):
    posts = tmp_path / "posts.csv"
    posts.write_text("date,followers\n2022-01-01,1\n")
    coder = tmp_path / "coder_a.csv"
    coder.write_text("post_id,coder,has_poll\n1.46E+18,a,1\n\"1,46E+18\",a,0\n1465000000000000000,a,1\n")
    result = read_files([coder], root=tmp_path)
    reasons = result.quarantine["reason"].tolist()
    assert len(reasons) == 2 and all("scientific notation" in r for r in reasons)
    # an id that matches no post (Excel kept 15 digits) is reported, not dropped silently
    from workbench.ingest import _warn_unmatched_codes

    warnings: list[str] = []
    _warn_unmatched_codes(result.codes, pd.DataFrame({"post_id": pd.array(["1465000000000000123"], dtype="string")}),
                          warnings)
    assert warnings and "match no post" in warnings[0] and "Excel keeps only 15 digits" in warnings[0]


def test_ansi_in_file_names_escaped_on_the_terminal(tmp_path, capsys):
    f = tmp_path / "\x1b[2J\x1b[31mevil.csv"
    f.write_text("nothing,we,know\n1,2,3\n")
    rc, out, err = run_cli(["ingest", str(f), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    assert "\x1b" not in out + err and "\\x1b[2J" in err


# ---- 10.5 the card checked before any kernel; data-dependent checks right after ingest ------------------------


@pytest.mark.parametrize(
    ("analysis", "match"),
    [
        ({"predictors": ["has_url", "has_pol"]}, r"analysis\.predictors names 'has_pol'.*Available: .*has_url"),
        ({"controls": ["follower_at_post"]}, r"analysis\.controls names 'follower_at_post'"),
        ({"outcomes": ["impresions"]}, r"analysis\.outcomes names 'impresions'.*Available: impressions"),
        ({"growth_metric": "folowers"}, r"analysis\.growth_metric names 'folowers'.*Available: followers"),
        ({"monthly_metrics": ["clicks"]}, r"analysis\.monthly_metrics names 'clicks'.*impressions_per_post"),
    ],
)
def test_card_names_checked_before_any_kernel(tmp_path, analysis, match):
    ds = make_dataset(tmp_path / "ds", {"analysis": analysis})
    ex = FakeExecutor()
    with pytest.raises(DatasetCardError, match=match):
        pipeline.run_pipeline(ds, out=tmp_path / "run", executor=ex, **QUIET)
    assert ex.calls == []


def test_goal_metric_and_column_map_checked(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"goals": [{"metric": "fans", "target": 5, "by": "2023-01-01"}]})
    with pytest.raises(DatasetCardError, match=r"goals\[0\]\.metric names 'fans'"):
        pipeline.run_pipeline(ds, out=tmp_path / "run", executor=FakeExecutor(), **QUIET)
    ds = make_dataset(tmp_path / "ds2", {"account": [{"path": "raw/posts.csv", "columns": {"fans": "follower"}}]})
    with pytest.raises(DatasetCardError, match=r"names 'follower'.*Available: date, followers"):
        pipeline.run_pipeline(ds, out=tmp_path / "run2", executor=FakeExecutor(), **QUIET)


@pytest.mark.parametrize(("date", "where"), [("2023-05-01", "after"), ("2021-01-01", "before")])
def test_intervention_outside_the_data_refused_after_ingest(tmp_path, capsys, date, where):
    ds = make_dataset(tmp_path / "ds", {"interventions": [{"date": date, "label": "Designer"}]})
    ex = FakeExecutor(dates=("2022-01-05", "2022-06-30"))
    with pytest.raises(DatasetCardError, match=rf"dated {date}, {where} the data, which covers 2022-01-05 to "
                                               r"2022-06-30"):
        pipeline.run_pipeline(ds, out=tmp_path / "run", executor=ex, **QUIET)
    assert ex.calls == ["ingest"]  # refused before stage 02


def test_manual_code_predictor_checked_against_the_coding_files(tmp_path):
    ds = make_dataset(tmp_path / "ds", {"codes": ["raw/posts.csv"], "analysis": {"predictors": ["has_tone"]}})
    ex = FakeExecutor(codes=("tone",))
    with pytest.raises(DatasetCardError, match=r"analysis\.predictors names 'has_tone'.*tone"):
        pipeline.run_pipeline(ds, out=tmp_path / "run", executor=ex, **QUIET)
    assert ex.calls == ["ingest"]
    ex = FakeExecutor(codes=("has_tone",))
    pipeline.run_pipeline(ds, out=tmp_path / "run2", executor=ex, **QUIET)
    assert ex.calls == list(pipeline.STAGE_NAMES)


def test_unexpected_error_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    ds = make_dataset(tmp_path / "ds")

    def bug(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "run_pipeline", bug)
    rc, _, err = run_cli(["run", str(ds)], capsys)
    assert rc == 1 and "unexpected error (ZeroDivisionError" in err and "Traceback" not in err
    log = err.split("details are in ")[1].strip()
    assert "Traceback" in Path(log).read_text()
    Path(log).unlink()


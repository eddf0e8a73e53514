"""The coding panel: decisions saved at once, resumed, blind to metrics; sampling and adjudication modes."""

from __future__ import annotations

import os

import ipywidgets as w
import numpy as np
import pandas as pd
import pytest

from workbench import widgets
from workbench.coding import list_disagreements, merge_codes, parse_codebook
from workbench.errors import InputError
from workbench.ingest import read_files
from workbench.schema import CODES_SCHEMA, POST_METRICS, POSTS_SCHEMA, conform
from workbench.widgets import DISPLAY_COLUMNS, CodingPanel

CODEBOOK = parse_codebook(
    {
        "codes": [
            {"name": "has_poll", "type": "binary", "label": "Poll", "definition": "A native poll."},
            {
                "name": "tone",
                "type": "categorical",
                "levels": ["negative", "neutral", "positive"],
                "definition": "The tone of the post.",
            },
        ]
    }
)
N_POSTS = 12
# distinctive metric values: if any of them shows up in a widget, the coder was not blind
METRIC_BASE = 918_273_000


def make_posts(n: int = N_POSTS, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    published = pd.Timestamp("2022-01-01", tz="UTC") + pd.to_timedelta(rng.permutation(n) * 3600, unit="s")
    frame = {
        "post_id": [f"17{i:05d}" for i in range(n)],
        "platform": "x",
        "account": "lab",
        "published_at": published,
        "text": [f"Post number {i} about our study" for i in range(n)],
        "permalink": [f"https://x.com/lab/status/17{i:05d}" for i in range(n)],
        **{m: [METRIC_BASE + 10 * j + i for i in range(n)] for j, m in enumerate(POST_METRICS)},
    }
    return conform(pd.DataFrame(frame), POSTS_SCHEMA, table="posts")


def chronological(posts: pd.DataFrame) -> list[str]:
    return posts.sort_values("published_at")["post_id"].tolist()


def code_long(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["post_id", "coder", "code", "value"])
    return conform(df, CODES_SCHEMA, table="codes")


# --- saving, resuming and reading back -----------------------------------------------------------------


def test_closing_mid_way_and_resuming_loses_and_duplicates_nothing(tmp_path):
    posts = make_posts()
    order = chronological(posts)
    path = tmp_path / "coding" / "ann.csv"
    intended: dict[str, dict[str, str]] = {}

    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=path)
    assert panel.post_id == order[0] and panel.progress == f"0 of {N_POSTS}"
    for i in range(5):
        poll, tone = str(i % 2), ["negative", "neutral", "positive"][i % 3]
        panel.set_code("has_poll", poll)
        panel.set_code("tone", tone)
        intended[order[i]] = {"has_poll": poll, "tone": tone}
        panel.next()
    panel.back()
    panel.back()  # re-decide post 4 (index 3): a new row, the latest wins
    panel.set_code("has_poll", "1" if intended[order[3]]["has_poll"] == "0" else "0")
    intended[order[3]]["has_poll"] = panel.codes_of(order[3])["has_poll"]
    panel.next()
    panel.next()
    panel.set_code("has_poll", True)  # post 6 half coded when the coder closes the browser
    assert panel.progress == f"5 of {N_POSTS}"
    del panel  # the browser closes: nothing is flushed on close, everything is already on disk

    again = CodingPanel(posts, CODEBOOK, coder="ann", path=path)
    assert again.post_id == order[5]  # resumes at the first post not fully coded
    assert again.codes_of(order[5]) == {"has_poll": "1"}
    assert again.progress == f"5 of {N_POSTS}"
    for pid in order[5:]:
        again.set_code("tone", "neutral")
        again.set_code("has_poll", "0")
        intended[pid] = {"has_poll": "0", "tone": "neutral"}
        again.next()
    assert again.finished and again.progress == f"{N_POSTS} of {N_POSTS}"

    # the file is a coding file for ingest; the later row of a post wins there too
    result = read_files([path], binary_codes={"has_poll"})
    assert result.quarantine.empty
    log = result.log["files"][0]
    assert log["format"] == "coding_csv" and log["table"] == "codes"
    n_lines = len(path.read_text(encoding="utf-8").splitlines()) - 1
    assert log["rows_read"] == n_lines and log["rows_kept"] == N_POSTS
    assert log["rows_superseded"] == n_lines - N_POSTS
    codes = result.codes
    assert set(codes["code"]) == {"has_poll", "tone"}  # coded_at is not a code
    assert not codes.duplicated(["post_id", "coder", "code"]).any()
    merged, info = merge_codes(posts, codes, codebook=CODEBOOK)
    got = merged.set_index("post_id")
    for pid, values in intended.items():
        assert got.loc[pid, "has_poll"] == (values["has_poll"] == "1"), pid
        assert got.loc[pid, "tone"] == values["tone"], pid
    assert info["codes"]["has_poll"]["n_coded"] == N_POSTS
    assert list(merged["tone"].cat.categories) == ["negative", "neutral", "positive"]


def test_each_decision_is_one_append_write_and_fsync(tmp_path, monkeypatch):
    calls = {"write": [], "fsync": 0}
    real_write, real_fsync = os.write, os.fsync

    def write(fd, data):
        calls["write"].append(data)
        return real_write(fd, data)

    def fsync(fd):
        calls["fsync"] += 1
        return real_fsync(fd)

    monkeypatch.setattr(widgets.os, "write", write)
    monkeypatch.setattr(widgets.os, "fsync", fsync)
    path = tmp_path / "ann.csv"
    panel = CodingPanel(make_posts(3), CODEBOOK, coder="ann", path=path)
    assert not path.exists()  # nothing written before the first decision
    panel.set_code("has_poll", 1)
    panel.set_code("tone", "positive")
    panel.set_code("tone", "positive")  # unchanged: no new row
    assert len(calls["write"]) == 2
    assert calls["write"][0].startswith(b"post_id,coder,has_poll,tone,coded_at\n")
    assert calls["write"][1].count(b"\n") == 1 and calls["write"][1].endswith(b"\n")
    assert calls["fsync"] >= 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith(f"{panel.post_id},ann,1,,") and lines[2].startswith(
        f"{panel.post_id},ann,1,positive,"
    )


def test_torn_last_line_is_repaired_on_reopening(tmp_path):
    path = tmp_path / "ann.csv"
    panel = CodingPanel(make_posts(4), CODEBOOK, coder="ann", path=path)
    panel.set_code("has_poll", 0)
    panel.set_code("tone", "neutral")
    first = panel.post_id
    with open(path, "ab") as f:  # a crash in the middle of writing the next decision
        f.write(b"170000")
    again = CodingPanel(make_posts(4), CODEBOOK, coder="ann", path=path)
    assert any("incomplete" in m for m in again.warnings)
    assert path.read_bytes().endswith(b"\n")
    assert again.codes_of(first) == {"has_poll": "0", "tone": "neutral"}
    again.set_code("has_poll", 1)
    assert read_files([path]).quarantine.empty


def test_a_cleared_code_makes_the_post_uncoded_again(tmp_path):
    panel = CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=tmp_path / "ann.csv")
    panel.set_code("has_poll", 0)
    panel.set_code("tone", "neutral")
    assert panel.progress == "1 of 2"
    panel.set_code("tone", None)
    assert panel.progress == "0 of 2"
    again = CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=tmp_path / "ann.csv")
    assert again.index == 0 and again.codes_of(again.post_id) == {"has_poll": "0"}


def test_file_of_another_coder_and_changed_codebook(tmp_path):
    path = tmp_path / "ann.csv"
    path.write_text("post_id,coder,has_poll,coded_at\n1700000,ben,1,2024-01-01T00:00:00Z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"other coders \['ben'\]"):
        CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=path)
    # a file written before the codebook gained 'tone' is rewritten with the new column
    path.write_text("post_id,coder,has_poll,coded_at\n1700000,ann,1,2024-01-01T00:00:00Z\n", encoding="utf-8")
    panel = CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "post_id,coder,has_poll,tone,coded_at"
    assert panel.codes_of("1700000") == {"has_poll": "1"}
    # a column the codebook does not know (a renamed code?) is kept, named in a warning and carried forward
    path.write_text("post_id,coder,has_video,coded_at\n1700000,ann,1,2024-01-01T00:00:00Z\n", encoding="utf-8")
    panel = CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=path)
    assert any("['has_video'] are not codes of the codebook" in m for m in panel.warnings), panel.warnings
    assert path.read_text(encoding="utf-8").splitlines()[0] == "post_id,coder,has_video,has_poll,tone,coded_at"
    assert panel.codes_of("1700000") == {}
    panel.goto("1700000")
    panel.set_code("has_poll", 0)
    assert path.read_text(encoding="utf-8").splitlines()[-1].startswith("1700000,ann,1,0,,")


# --- the logic the buttons call ------------------------------------------------------------------------


def test_navigation_and_skip(tmp_path):
    posts = make_posts(4)
    order = chronological(posts)
    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "a.csv")
    panel.back()
    assert panel.index == 0
    panel.skip()  # leave post 1 for later
    assert panel.post_id == order[1]
    for _ in range(3):
        panel.set_code("has_poll", 0)
        panel.set_code("tone", "neutral")
        panel.next()
    assert panel.finished and panel.post_id is None and panel.current is None
    panel.next()
    assert panel.finished
    with pytest.raises(InputError, match="past the last of 4 posts"):
        panel.set_code("has_poll", 1)
    panel.goto(order[2])
    panel.skip()  # wraps around to the post left uncoded
    assert panel.post_id == order[0]
    panel.skip()  # no other uncoded post: the end
    assert panel.finished


@pytest.mark.parametrize(
    ("code", "value", "match"),
    [
        ("has_video", 1, r"no code 'has_video' in the codebook; codes: \['has_poll', 'tone'\]"),
        ("has_poll", "maybe", "code 'has_poll' is binary: expected 0/1"),
        ("tone", "angry", r"'angry' is not one of its levels \['negative', 'neutral', 'positive'\]"),
    ],
)
def test_invalid_decisions_are_refused_and_not_saved(tmp_path, code, value, match):
    path = tmp_path / "ann.csv"
    panel = CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=path)
    with pytest.raises(InputError, match=match):
        panel.set_code(code, value)
    assert not path.exists()


def test_bad_arguments(tmp_path):
    posts = make_posts(3)
    with pytest.raises(InputError, match="mode 'some' is not one of"):
        CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "a.csv", mode="some")
    with pytest.raises(InputError, match="coder must be a non-empty name"):
        CodingPanel(posts, CODEBOOK, path=tmp_path / "a.csv")
    for evil in ("=HYPERLINK(1)", "@ann", "-x", 'a"b', "a\nb"):
        with pytest.raises(InputError, match="not starting with =, \\+, - or @"):
            CodingPanel(posts, CODEBOOK, coder=evil, path=tmp_path / "a.csv")
    with pytest.raises(InputError, match="timezone 'Mars/Base' is not a time zone"):
        CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "a.csv", timezone="Mars/Base")
    with pytest.raises(InputError, match="overlap mode needs overlap_size"):
        CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "a.csv", mode="overlap")
    with pytest.raises(InputError, match="adjudicate mode needs other_codes"):
        CodingPanel(posts, CODEBOOK, path=tmp_path / "a.csv", mode="adjudicate")
    with pytest.raises(InputError, match="adjudicate mode writes the coder 'adjudicated'"):
        CodingPanel(
            posts,
            CODEBOOK,
            coder="ann",
            path=tmp_path / "a.csv",
            mode="adjudicate",
            other_codes=code_long([]),
        )
    with pytest.raises(InputError, match=r"missing columns \['text'\]"):
        CodingPanel(posts.drop(columns=["text"]), CODEBOOK, coder="ann", path=tmp_path / "a.csv")


# --- blindness and the widget layer --------------------------------------------------------------------


def widget_strings(widget) -> list[str]:
    """Every string a widget tree can show: values, descriptions, tooltips, options, placeholders."""
    out = []
    stack = [widget]
    while stack:
        x = stack.pop()
        for attr in (
            "value",
            "description",
            "tooltip",
            "placeholder",
            "tooltips",
            "options",
            "_options_labels",
        ):
            v = getattr(x, attr, None)
            if v is not None:
                out.append(repr(v))
        stack.extend(getattr(x, "children", ()))
    return out


def test_coders_never_see_metrics(tmp_path):
    posts = make_posts()
    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "ann.csv")
    assert set(panel._posts.reset_index().columns) <= set(DISPLAY_COLUMNS)
    assert set(panel.current) == {*DISPLAY_COLUMNS, "codes"}
    assert isinstance(panel.widget, w.VBox)  # built
    for _ in range(N_POSTS + 1):  # every post and the end screen
        shown = " ".join(widget_strings(panel.widget)).lower()
        assert str(METRIC_BASE)[:6] not in shown
        for metric in ("impression", "engagement", "likes", "reposts", "media views", "url_clicks"):
            assert metric not in shown
        panel._next.click()
    assert panel.finished


def test_widget_layer_saves_and_navigates(tmp_path):
    posts = make_posts(3)
    posts.loc[0, "text"] = "<script>alert('x')</script> & more"
    order = chronological(posts)
    path = tmp_path / "ann.csv"
    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=path)
    panel.goto(posts.loc[0, "post_id"])
    box = panel.widget
    assert isinstance(box, w.VBox)
    assert "&lt;script&gt;" in panel._card.value and "<script>" not in panel._card.value
    assert "x.com/lab/status" not in panel._card.value  # blind: the platform's page shows the metrics
    panel._controls["has_poll"].value = "1"  # a click on "yes"
    panel._controls["tone"].value = "negative"
    assert panel.codes_of(posts.loc[0, "post_id"]) == {"has_poll": "1", "tone": "negative"}
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    assert "1 of 3" in panel._header.value
    panel.goto(order[0])
    panel._render()
    panel._next.click()
    assert panel.post_id == order[1]
    assert panel._controls["has_poll"].value == panel.codes_of(order[1]).get("has_poll")
    panel._back.click()
    assert panel.post_id == order[0]
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    panel._back.click()  # re-rendering sets the controls: that must not write rows
    panel._next.click()
    assert len(path.read_text(encoding="utf-8").splitlines()) == n_lines
    for b in (panel._back, panel._skip, panel._next):
        assert b.description and b.tooltip


# --- sampling modes -------------------------------------------------------------------------------------


def test_overlap_sample_is_the_same_for_every_coder(tmp_path):
    posts = make_posts(40)
    shuffled = posts.sample(frac=1.0, random_state=3)
    ann = CodingPanel(
        posts, CODEBOOK, coder="ann", path=tmp_path / "ann.csv", mode="overlap", overlap_size=10, seed=7
    )
    ben = CodingPanel(
        shuffled, CODEBOOK, coder="ben", path=tmp_path / "ben.csv", mode="overlap", overlap_size=10, seed=7
    )
    other = CodingPanel(
        posts, CODEBOOK, coder="cat", path=tmp_path / "cat.csv", mode="overlap", overlap_size=10, seed=8
    )
    assert ann.queue == ben.queue and len(ann.queue) == 10 and ann.progress == "0 of 10"
    assert ann.queue == [p for p in chronological(posts) if p in set(ann.queue)]  # oldest first
    assert set(other.queue) != set(ann.queue)
    with pytest.raises(InputError, match="overlap size must be a whole number from 1 to 40"):
        CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "x.csv", mode="overlap", overlap_size=41)


def test_adjudication_lists_exactly_the_disagreements(tmp_path):
    posts = make_posts(8)
    ids = posts["post_id"].tolist()
    # (ann's has_poll, ben's has_poll, ann's tone, ben's tone) of posts 1-6
    values = [
        ("1", "1", "positive", "positive"),  # agreement (but see 'topic' below)
        ("1", "0", "positive", "positive"),  # has_poll in dispute
        ("0", "0", "negative", "positive"),  # tone in dispute
        ("0", "0", "neutral", "neutral"),
        ("0", "1", "negative", "positive"),  # both in dispute
        ("1", "1", "negative", "negative"),
    ]
    rows = []
    for pid, (poll_a, poll_b, tone_a, tone_b) in zip(ids[:6], values, strict=True):
        rows += [(pid, "ann", "has_poll", poll_a), (pid, "ben", "has_poll", poll_b)]
        rows += [(pid, "ann", "tone", tone_a), (pid, "ben", "tone", tone_b)]
    # posts 7 and 8 are coded by one coder only: nothing to adjudicate
    rows += [(ids[6], "ann", "has_poll", "1"), (ids[7], "ben", "tone", "neutral")]
    rows += [(ids[0], "ann", "topic", "a"), (ids[0], "ben", "topic", "b")]  # not in the codebook
    codes = code_long(rows)
    dis = list_disagreements(codes)
    expected = set(dis.loc[dis["code"] != "topic", "post_id"])
    assert expected == {ids[1], ids[2], ids[4]}  # the hand-made table above
    panel = CodingPanel(
        posts, CODEBOOK, path=tmp_path / "adjudicated.csv", mode="adjudicate", other_codes=codes
    )
    assert panel.coder == "adjudicated"
    assert set(panel.queue) == expected
    assert panel.disputed == {ids[1]: ["has_poll"], ids[2]: ["tone"], ids[4]: ["has_poll", "tone"]}
    assert panel.queue == [p for p in chronological(posts) if p in expected]
    assert any("topic" in m for m in panel.warnings)
    # a post is done when the codes in dispute are decided; the coders' values are shown as hints
    pid = panel.post_id
    disputed = dis.loc[dis["post_id"] == pid, "code"].tolist()
    assert isinstance(panel.widget, w.VBox)
    hint = panel._hints[disputed[0]].value
    assert "ann = " in hint and "ben = " in hint
    value = {"has_poll": "1", "tone": "neutral"}
    for code in disputed:
        panel.set_code(code, value[code])
    assert panel.is_done(pid) and panel.progress == f"1 of {len(expected)}"
    # the adjudicated file settles those disagreements in merge_codes
    adjudicated = read_files([tmp_path / "adjudicated.csv"]).codes
    merged, _ = merge_codes(posts, pd.concat([codes, adjudicated], ignore_index=True), codebook=CODEBOOK)
    row = merged.set_index("post_id").loc[pid]
    for code in disputed:
        assert str(row[code]) == {"1": "True", "neutral": "neutral"}[value[code]]


# --- coder files made elsewhere, line ends, torn lines (issues 17.1, 11.3) --------------------------------

EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "example"


def test_the_examples_own_coding_files_resume(tmp_path):
    """The documented format (post_id, coder, codes; no coded_at) opens, resumes and keeps every decision."""
    from workbench.coding import load_codebook

    codebook = load_codebook(EXAMPLE / "codebook.yml")
    for name in ("coder_a", "adjudicated"):
        original = (EXAMPLE / "coding" / f"{name}.csv").read_text(encoding="utf-8")
        path = tmp_path / f"{name}.csv"
        path.write_text(original, encoding="utf-8")
        rows = pd.read_csv(path, dtype=str)
        posts = pd.DataFrame({"post_id": rows["post_id"].tolist() + ["99"], "text": "t"})
        panel = CodingPanel(posts, codebook, coder=name, path=path)
        assert panel.n_done == rows["post_id"].nunique()
        assert panel.post_id == "99"  # the only uncoded post
        last = rows.drop_duplicates("post_id", keep="last").iloc[-1]
        assert panel.codes_of(last["post_id"]) == {"has_poll": last["has_poll"], "has_graphic": last["has_graphic"]}
        assert any("coded_at" in m and "original is kept" in m for m in panel.warnings), panel.warnings
        backups = list((tmp_path / ".workbench-backup").iterdir())
        assert any(b.read_text(encoding="utf-8") == original for b in backups)
        panel.set_code("has_poll", 1)
        back = read_files([path], binary_codes={"has_poll", "has_graphic"})
        assert back.quarantine.empty
        assert back.codes["post_id"].nunique() == rows["post_id"].nunique() + 1
        panel.close()


def _reopen(path, posts=None):
    return CodingPanel(make_posts(4) if posts is None else posts, CODEBOOK, coder="ann", path=path)


HEADER = "post_id,coder,has_poll,tone,coded_at"


@pytest.mark.parametrize(
    "content",
    [
        "post_id,coder,has_poll,tone\n1700000,ann,1,neutral",  # an editor's file, no final newline
        f"{HEADER}\n1700001,ann,0,negative,2024-01-01T00:00:00.000+00:00\n1700000,ann,1,neutral,"
        "2024-01-01T00:00:01.000+00:00",  # the panel's own line cut just before its newline
        "post_id,coder,tone,has_poll\r\n1700000,ann,neutral,1",  # CRLF, another column order
        f"{HEADER}\n1700000,ann,1,neutral,",  # cut right after the last comma: every code value is whole
    ],
)
def test_a_complete_last_line_without_newline_is_kept(tmp_path, content):
    path = tmp_path / "ann.csv"
    path.write_bytes(content.encode("utf-8"))
    panel = _reopen(path)
    assert panel.codes_of("1700000") == {"has_poll": "1", "tone": "neutral"}
    assert any("no final newline" in m for m in panel.warnings), panel.warnings
    panel.goto("1700002")
    panel.set_code("has_poll", 0)
    assert read_files([path]).quarantine.empty
    assert _reopen(path).codes_of("1700000") == {"has_poll": "1", "tone": "neutral"}


@pytest.mark.parametrize(
    "tail",
    [
        "1700000,ann,1,neutral,2024-01-01T00:0",  # stamp cut
        "1700000,ann,1,neu",  # fields missing
        '1700000,ann,1,"neutral',  # an open quote
    ],
)
def test_only_a_truly_torn_last_line_is_removed(tmp_path, tail):
    path = tmp_path / "ann.csv"
    good = f"{HEADER}\n1700001,ann,0,negative,2024-01-01T00:00:00.000+00:00\n"
    path.write_bytes((good + tail).encode("utf-8"))
    panel = _reopen(path)
    assert any("incomplete" in m for m in panel.warnings), panel.warnings
    assert path.read_bytes() == good.encode("utf-8")
    assert panel.codes_of("1700001") == {"has_poll": "0", "tone": "negative"}
    assert panel.codes_of("1700000") == {}


def test_a_torn_header_of_a_new_file_is_removed(tmp_path):
    path = tmp_path / "ann.csv"
    path.write_bytes(b"post_id,coder,has_p")
    panel = _reopen(path)
    panel.set_code("has_poll", 1)
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_crlf_file_is_appended_with_crlf(tmp_path):
    path = tmp_path / "ann.csv"
    path.write_bytes(f"{HEADER}\r\n1700001,ann,0,negative,2024-01-01T00:00:00Z\r\n".encode())
    panel = _reopen(path)
    assert panel.warnings == [] and panel.codes_of("1700001") == {"has_poll": "0", "tone": "negative"}
    panel.goto("1700000")
    panel.set_code("has_poll", 1)
    data = path.read_bytes()
    assert data.count(b"\r\n") == 3 and data.count(b"\n") == 3
    assert read_files([path]).codes["post_id"].nunique() == 2


def test_cr_only_and_cp1252_files_are_read_and_rewritten_with_a_backup(tmp_path):
    path = tmp_path / "ann.csv"
    original = "post_id,coder,has_poll,tone\r1700000,ann,1,neutral\r1700001,ann,0,negative\r"
    path.write_bytes(original.encode("cp1252"))
    panel = _reopen(path)
    assert panel.codes_of("1700000") == {"has_poll": "1", "tone": "neutral"}
    assert panel.n_done == 2
    assert any("CR only" in m for m in panel.warnings)
    assert b"\r" not in path.read_bytes()
    (backup,) = (tmp_path / ".workbench-backup").iterdir()
    assert backup.read_bytes() == original.encode("cp1252")
    # Windows-1252 text (an accented coder comment column) becomes UTF-8
    path.write_bytes("post_id,coder,has_poll,tone,note\n1700000,ann,1,neutral,café\n".encode("cp1252"))
    panel = _reopen(path)
    assert any("cp1252" in m for m in panel.warnings)
    assert "café" in path.read_text(encoding="utf-8")
    panel.set_code("tone", "positive")  # resumes at 1700001 (not coded in this file)
    assert path.read_text(encoding="utf-8").splitlines()[-1].startswith("1700001,ann,,positive,,")


def test_messages_say_what_is_wrong(tmp_path):
    path = tmp_path / "ann.csv"
    path.write_text("id,name,has_poll\n1,ann,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="starts with the columns post_id, coder"):
        _reopen(path)
    path.write_text("post_id,coder,has_poll\n1.70000E+06,ann,1\n1700001,ann,maybe\n1700002,ann,yes\n")
    panel = _reopen(path)
    text = " ".join(panel.warnings)
    assert "scientific notation" in text and "rows [2]" in text
    assert "'maybe'" in text and "rows [3]" in text
    assert panel.codes_of("1700002") == {"has_poll": "1"}
    other = b"post_id,coder,has_poll\n1700000,ben,1\n1700001,ann,1"  # refused: no newline is added either
    path.write_bytes(other)
    with pytest.raises(InputError, match=r"other coders \['ben'\] \(rows \[2\]\)"):
        _reopen(path)
    assert path.read_bytes() == other
    bad = f"{HEADER}\n1700000,ann,1,neutral,2024-01-01T00:00:00Z,extra\n"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(InputError, match=r"not a well-formed CSV.*(Expected 5 fields in line 2, saw 6|Length of header)"):
        _reopen(path)
    assert path.read_text(encoding="utf-8") == bad
    with pytest.raises(InputError, match="is a folder"):
        CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=tmp_path)


# --- one writer per coder file (issue 11.4) ---------------------------------------------------------------

HOLDER = r"""
import sys, time
import pandas as pd
from workbench.coding import parse_codebook
from workbench.widgets import CodingPanel
cb = parse_codebook({"codes": [{"name": "has_poll", "type": "binary", "definition": "A poll."}]})
posts = pd.DataFrame({"post_id": [str(i) for i in range(5)], "text": "t"})
panel = CodingPanel(posts, cb, coder="ann", path=sys.argv[1])
panel.set_code("has_poll", 1)
print("ready", flush=True)
time.sleep(120)
"""


def test_a_second_panel_in_another_process_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    import signal
    import subprocess
    import sys

    cb = parse_codebook({"codes": [{"name": "has_poll", "type": "binary", "definition": "A poll."}]})
    posts = pd.DataFrame({"post_id": [str(i) for i in range(5)], "text": "t"})
    path = tmp_path / "ann.csv"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(widgets.CoderFileBusyError, match=rf"pid {proc.pid} on .*coder 'ann'"):
            CodingPanel(posts, cb, coder="ann", path=path)
        assert path.read_text(encoding="utf-8").count("post_id") == 1  # the refused panel wrote nothing
    finally:
        proc.send_signal(signal.SIGKILL)  # a crash: the lock file stays behind
        proc.wait(timeout=30)
    assert (tmp_path / ".ann.csv.lock").exists()
    panel = CodingPanel(posts, cb, coder="ann", path=path)  # the dead panel's lock is free
    assert panel.codes_of("0") == {"has_poll": "1"} and panel.post_id == "1"
    panel.set_code("has_poll", 0)
    panel.close()
    assert not (tmp_path / ".ann.csv.lock").exists()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "post_id,coder,has_poll,coded_at" and len(lines) == 3


def test_two_processes_racing_for_one_file_never_both_write(tmp_path):
    import subprocess
    import sys

    script = HOLDER.replace('print("ready", flush=True)\ntime.sleep(120)', 'print("ready", flush=True)')
    script = script.replace("panel = CodingPanel", "try:\n    panel = CodingPanel").replace(
        'panel.set_code("has_poll", 1)',
        '    panel.set_code("has_poll", 1)\n    time.sleep(1)\nexcept Exception as e:\n    print(type(e).__name__)\n    sys.exit(0)',
    )
    path = tmp_path / "ann.csv"
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outs.count("ready") >= 1 and all(o in ("ready", "CoderFileBusyError") for o in outs), outs
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines.count("post_id,coder,has_poll,coded_at") == 1, lines
    assert len(lines) == 1 + outs.count("ready")


def test_a_re_run_cell_takes_the_file_over_and_the_old_panel_stops_saving(tmp_path):
    path = tmp_path / "ann.csv"
    old = _reopen(path)
    old.set_code("has_poll", 1)
    new = _reopen(path)
    assert any("earlier panel" in m for m in new.warnings)
    with pytest.raises(InputError, match="no longer saves"):
        old.set_code("tone", "neutral")
    old_widget = old.widget
    assert "not saving" in old._header.value and old._controls["tone"].disabled
    assert old_widget is not None
    new.set_code("tone", "neutral")
    assert new.n_done == 1


# --- keys, codebook, status, time zone, blinding (issue 17.2-17.6) ----------------------------------------


def test_keyboard_codes_and_navigates_like_the_buttons(tmp_path):
    posts = make_posts(5)
    order = chronological(posts)
    path = tmp_path / "ann.csv"
    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=path)
    assert panel.active == 0 and panel.key_help("tone") == "1 negative · 2 neutral · 3 positive"
    assert panel.handle_key("y") == "has_poll = 1" and panel.active == 1  # the highlight moves on
    assert panel.handle_key("7") == ""  # no 7th level: nothing happens
    assert panel.handle_key("3") == "tone = positive"
    assert panel.codes_of(order[0]) == {"has_poll": "1", "tone": "positive"}
    assert panel.handle_key("Enter") == "next" and panel.post_id == order[1] and panel.active == 0
    panel.handle_key("n")
    panel.handle_key("1")
    panel.handle_key("ArrowRight")
    panel.handle_key("0")
    panel.handle_key("ArrowUp")
    panel.handle_key("Backspace")  # clears has_poll of the third post again
    assert panel.codes_of(order[2]) == {}
    panel.handle_key("s")  # skip the third
    assert panel.post_id == order[3]
    panel.handle_key("ArrowLeft")
    assert panel.post_id == order[2]
    assert panel.codes_of(order[1]) == {"has_poll": "0", "tone": "negative"}
    assert panel.progress == "2 of 5"
    assert panel.handle_key("q") == "" and panel.handle_key("Shift") == ""
    again = _reopen(path, posts)
    assert again.post_id == order[2]


def test_widget_shows_codebook_status_and_keys(tmp_path):
    codebook = parse_codebook({"title": "Our codes", "codes": [
        {"name": "has_poll", "type": "binary", "label": "Poll", "definition": "A native poll.",
         "include": ["Polls in replies"], "exclude": "Questions without a poll <b>",
         "examples": ["Which rule do you use? (with poll)"]}]})
    posts = make_posts(3)
    order = chronological(posts)
    panel = CodingPanel(posts, codebook, coder="ann", path=tmp_path / "ann.csv", timezone="America/New_York")
    box = panel.widget
    (guide,) = [c for c in box.children[1].children if isinstance(c, w.Accordion)]
    text = guide.children[0].value
    for part in ("A native poll.", "Polls in replies", "Questions without a poll &lt;b&gt;", "(with poll)"):
        assert part in text
    assert guide.selected_index == 0
    assert "(America/New_York)" in panel._card.value
    first = posts.set_index("post_id").loc[order[0], "published_at"].tz_convert("America/New_York")
    assert first.strftime("%Y-%m-%d %H:%M") in panel._card.value
    panel._controls["has_poll"].value = "1"
    assert "saved has_poll = 1" in panel._status.value
    panel._next.click()
    assert panel._status.value == ""  # no "saved ... for post <previous id>" beside the next post
    assert "coded 1 of 3" in panel._header.value and "▶ 1. Poll" in panel._labels["has_poll"].value
    panel._on_key({"key": "y", "type": "keydown"})
    assert panel.codes_of(order[1]) == {"has_poll": "1"} and "saved has_poll" in panel._status.value
    from ipyevents import Event

    assert isinstance(panel._keys, Event) and panel._keys.source is box
    assert panel._keys.watched_events == ["keydown"]


def test_progress_of_the_other_coders_and_overlap_left(tmp_path):
    posts = make_posts(10)
    folder = tmp_path / "coding"
    ben = CodingPanel(posts, CODEBOOK, coder="ben", path=folder / "ben.csv", mode="overlap", overlap_size=4)
    for _ in range(3):
        ben.set_code("has_poll", 0)
        ben.set_code("tone", "neutral")
        ben.next()
    ann = CodingPanel(posts, CODEBOOK, coder="ann", path=folder / "ann.csv", mode="overlap", overlap_size=4)
    assert ann.others == {"ben": 3}
    assert ann.widget is not None
    assert "4 overlap posts left for you" in ann._header.value and "ben 3 of 4" in ann._header.value


def test_link_to_the_platform_only_on_request_and_with_a_warning(tmp_path):
    posts = make_posts(2)
    posts.loc[:, "text"] = "Read it https://doi.org/10.1/abc now"
    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "a.csv")
    assert panel.widget is not None
    assert "x.com" not in panel._card.value and "<code>https://doi.org/10.1/abc</code>" in panel._card.value
    shown = CodingPanel(posts, CODEBOOK, coder="bea", path=tmp_path / "b.csv", show_link=True)
    assert shown.widget is not None
    assert "x.com/lab/status" in shown._card.value and "shows its metrics" in shown._card.value


def test_from_dataset_uses_the_cards_codebook_posts_and_time_zone(tmp_path):
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(EXAMPLE, ds, ignore=shutil.ignore_patterns("coding"))
    (ds / "coding").mkdir()
    for n in ("coder_a", "coder_b"):
        shutil.copy(EXAMPLE / "coding" / f"{n}.csv", ds / "coding" / f"{n}.csv")
    panel = CodingPanel.from_dataset(ds, coder="coder_a", run_dir=tmp_path / "no_run")
    assert panel.timezone == "America/New_York" and panel.path == ds / "coding" / "coder_a.csv"
    assert panel.n_total > 100 and panel.n_done > 0 and "coder_b" in panel.others
    panel.close()
    adj = CodingPanel.from_dataset(ds, mode="adjudicate", run_dir=tmp_path / "no_run")
    assert adj.coder == "adjudicated" and adj.n_total > 0
    assert adj.path == ds / "coding" / "adjudicated.csv"
    adj.close()


def test_posts_are_shown_oldest_first_ties_by_id_undated_last(tmp_path):
    posts = pd.DataFrame({
        "post_id": [" 30", "10", "20", "40", "10"],
        "published_at": ["2022-01-02", "2022-01-01", "2022-01-01", None, "2022-01-01"],
        "text": ["c", "a-old", "b", "d", "a"],
    })
    panel = CodingPanel(posts, CODEBOOK, coder="ann", path=tmp_path / "a.csv")
    assert panel.queue == ["10", "20", "30", "40"]  # stripped ids, the later duplicate row kept
    assert panel.current["text"] == "a"


def test_a_read_only_coding_folder_is_a_clear_error(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(widgets.os, "open", read_only)
    with pytest.raises(InputError, match=r"cannot create the lock file \.ann\.csv\.lock .*Permission denied.*must be"):
        CodingPanel(make_posts(2), CODEBOOK, coder="ann", path=tmp_path / "ann.csv")

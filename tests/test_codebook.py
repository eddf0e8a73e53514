"""The codebook: a documented, validated format (errors name file, code and key) and its uses."""

from __future__ import annotations

import dataclasses
import re
import textwrap

import pandas as pd
import pytest
import yaml
from conftest import EXAMPLE

from workbench.coding import (
    CODE_KEYS,
    CodebookError,
    codebook_markdown,
    codebook_table,
    load_codebook,
    merge_codes,
)
from workbench.ingest import read_files
from workbench.schema import CODES_SCHEMA, conform

FULL = textwrap.dedent(
    """\
    title: Codes of the test network
    description: >-
      Two coders code every post.
    research_domains: [www.NEJM.org, jamanetwork.com]
    codes:
      - name: has_poll
        type: binary
        label: Poll
        definition: >-
          The post contains a native poll.
        include: [Polls with two to four options, Replies with a poll]
        exclude: Questions without a poll
        examples: ["Quick poll: which rule do you use?"]
      - name: tone
        type: categorical
        levels: [negative, neutral, positive]
        definition: The tone of the post.
      - name: has_link
        type: binary
        definition: The post links to a web page.
        automatic: has_url
    """
)


def write(tmp_path, text: str, name: str = "codebook.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_codebook_loads():
    book = load_codebook(EXAMPLE / "codebook.yml")
    assert book.names == ("has_poll", "has_graphic")
    assert book.binary_codes == frozenset({"has_poll", "has_graphic"})
    poll = book.code("has_poll")
    assert poll.label == "Poll" and poll.type == "binary" and poll.values == ("0", "1")
    assert poll.definition.startswith("The post contains a native X poll")
    assert len(poll.examples) == 2 and poll.include and poll.exclude
    assert book.research_domains == ()


def test_full_codebook(tmp_path):
    book = load_codebook(write(tmp_path, FULL))
    assert book.title == "Codes of the test network" and book.description == "Two coders code every post."
    assert book.research_domains == ("nejm.org", "jamanetwork.com")
    assert book.names == ("has_poll", "tone", "has_link")
    assert book.binary_codes == frozenset({"has_poll", "has_link"})
    tone = book.code("tone")
    assert tone.levels == ("negative", "neutral", "positive") and tone.values == tone.levels
    assert tone.label == "tone"  # default label: the name
    poll = book.code("has_poll")
    assert poll.include == ("Polls with two to four options", "Replies with a poll")
    assert poll.exclude == ("Questions without a poll",)
    assert book.code("has_link").automatic == "has_url"
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.codes = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        poll.name = "x"
    with pytest.raises(ValueError, match=r"no code 'has_video' in the codebook; codes: \['has_poll', 'tone'"):
        book.code("has_video")


def test_codebook_table_and_markdown(tmp_path):
    book = load_codebook(write(tmp_path, FULL))
    table = codebook_table(book)
    assert list(table.columns) == [
        "code", "label", "type", "values", "definition", "include", "exclude", "examples", "automatic",
    ]  # fmt: skip
    assert table["code"].tolist() == ["has_poll", "tone", "has_link"]
    assert table.loc[0, "values"] == "0 = no, 1 = yes"
    assert table.loc[1, "values"] == "negative, neutral, positive"
    assert table.loc[0, "include"] == "Polls with two to four options; Replies with a poll"
    assert table["automatic"].tolist() == ["", "", "has_url"]
    md = codebook_markdown(book)
    assert md.startswith("## Codes of the test network\n")
    assert "### Poll (`has_poll`, binary: 0 = no, 1 = yes)" in md
    assert "### tone (`tone`, categorical: negative, neutral, positive)" in md
    assert "- Replies with a poll" in md and "**Exclude:**" in md
    assert "Compared with the automatic feature `has_url`." in md
    assert "nejm.org, jamanetwork.com" in md


def mutate(change) -> str:
    data = yaml.safe_load(FULL)
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def set_code_key(index, key, value):
    def change(data):
        data["codes"][index][key] = value

    return change


def drop_code_key(index, key):
    def change(data):
        del data["codes"][index][key]

    return change


INVALID = [
    ("top-level typo", lambda d: d.update(codez=[]), r"unknown keys \['codez'\]; allowed keys: \['title'"),
    (
        "code key typo",
        set_code_key(0, "defintion", "x"),
        r"code 'has_poll' \(codes\[0\]\): unknown keys \['defintion'\]; allowed keys: "
        + re.escape(repr(list(CODE_KEYS))),
    ),
    (
        "no definition",
        drop_code_key(1, "definition"),
        r"code 'tone' \(codes\[1\]\): missing required key 'definition'",
    ),
    ("no name", drop_code_key(0, "name"), r"codes\[0\]: missing required key 'name'"),
    (
        "unknown type",
        set_code_key(0, "type", "yes/no"),
        r"type 'yes/no' is not one of \['binary', 'categorical'\]",
    ),
    ("no levels", drop_code_key(1, "levels"), "a categorical code needs 'levels', a list of at least two"),
    ("one level", set_code_key(1, "levels", ["only"]), "a categorical code needs 'levels'"),
    ("repeated level", set_code_key(1, "levels", ["a", "a"]), "levels must be distinct"),
    (
        "formula level",
        set_code_key(1, "levels", ["=HYPERLINK(\"x\")", "@sum", "-1", "+1"]),
        r"levels \['=HYPERLINK\(\"x\"\)', '@sum'\] start like a spreadsheet formula",
    ),
    (
        "binary with levels",
        set_code_key(0, "levels", ["0", "1"]),
        "a binary code takes 0/1 and has no 'levels'",
    ),
    ("bad name", set_code_key(0, "name", "Has Poll"), "name 'Has Poll' must be lower case letters"),
    (
        "posts column",
        set_code_key(0, "name", "impressions"),
        "name 'impressions' is a column of the posts table",
    ),
    (
        "duplicate",
        set_code_key(1, "name", "has_poll"),
        r"code 'has_poll' \(codes\[1\]\): code 'has_poll' is defined twice",
    ),
    (
        "automatic not a feature",
        set_code_key(2, "automatic", "has_link_auto"),
        r"found 'has_link_auto' \(type binary\); allowed: \[.*'has_url'",
    ),
    ("automatic on categorical", set_code_key(1, "automatic", "has_url"), r"\(type categorical\)"),
    ("automatic is itself", set_code_key(2, "name", "has_url"), "'automatic' names the code itself"),
    ("examples not a list", set_code_key(0, "examples", "one"), "'examples' must be a list of texts"),
    (
        "include a mapping",
        set_code_key(0, "include", {"a": 1}),
        "key 'include' must be a text or a list of texts",
    ),
    (
        "domain with scheme",
        lambda d: d.update(research_domains=["https://nejm.org"]),
        "research domain 'https://nejm.org'",
    ),
    (
        "domains not a list",
        lambda d: d.update(research_domains="nejm.org"),
        "'research_domains' must be a list",
    ),
    ("codes not a list", lambda d: d.update(codes={"has_poll": {}}), "key 'codes' must be a list of codes"),
    ("code not a mapping", lambda d: d["codes"].append("has_video"), r"codes\[3\]: expected a mapping"),
]


@pytest.mark.parametrize(("change", "match"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_codebooks_name_file_code_and_key(tmp_path, change, match):
    path = write(tmp_path, mutate(change))
    with pytest.raises(CodebookError, match=match) as info:
        load_codebook(path)
    assert str(info.value).startswith(str(path))  # the file comes first


def test_unreadable_codebooks(tmp_path):
    with pytest.raises(CodebookError, match="cannot read the codebook"):
        load_codebook(tmp_path / "missing.yml")
    with pytest.raises(CodebookError, match="not valid YAML"):
        load_codebook(write(tmp_path, "codes: [unclosed"))
    with pytest.raises(CodebookError, match="expected a mapping with keys"):
        load_codebook(write(tmp_path, "- just a list"))


def long_codes(rows) -> pd.DataFrame:
    return conform(
        pd.DataFrame(rows, columns=["post_id", "coder", "code", "value"]), CODES_SCHEMA, table="codes"
    )


def test_merge_codes_follows_the_codebook(tmp_path):
    book = load_codebook(write(tmp_path, FULL))
    codes = long_codes(
        [
            ("p1", "ann", "tone", "positive"),
            ("p2", "ann", "tone", "angry"),  # not a level: ignored with a warning
            ("p1", "ann", "has_poll", "1"),
            ("p2", "ann", "has_poll", "2"),  # not 0/1: ignored
            ("p1", "ann", "topic", "x"),  # not in the codebook: merged, with a warning
        ]
    )
    posts = pd.DataFrame({"post_id": pd.array(["p1", "p2"], dtype="string")})
    out, info = merge_codes(posts, codes, codebook=book)
    assert list(out["tone"].cat.categories) == ["negative", "neutral", "positive"]  # the codebook's order
    assert out["tone"].astype(object).tolist()[0] == "positive" and pd.isna(out["tone"].iloc[1])
    assert str(out["has_poll"].dtype) == "boolean"  # binary by the codebook despite the stray '2'
    assert out["has_poll"].tolist()[0] is True and pd.isna(out["has_poll"].iloc[1])
    warnings = " | ".join(info["warnings"])
    assert (
        "code 'tone': 1 values not allowed by the codebook were ignored" in warnings and "'angry'" in warnings
    )
    assert "code 'has_poll': 1 values not allowed" in warnings and "'2'" in warnings
    assert "codes ['topic'] are not defined in the codebook" in warnings
    # without the codebook, has_poll would be categorical (a '2' among its values)
    plain, _ = merge_codes(posts, codes)
    assert isinstance(plain["has_poll"].dtype, pd.CategoricalDtype)


def test_binary_codes_of_the_codebook_drive_ingest(tmp_path):
    book = load_codebook(write(tmp_path, FULL))
    coding = tmp_path / "ann.csv"
    # 'has_link' holds a typo; told that it is binary, ingest quarantines the row instead of guessing
    coding.write_text(
        "post_id,coder,has_poll,tone,has_link\np1,ann,1,neutral,1\np2,ann,0,positive,y3s\n", encoding="utf-8"
    )
    guessed = read_files([coding])
    assert guessed.quarantine.empty  # inferred: 'has_link' is not 90 % 0/1, so categorical
    told = read_files([coding], binary_codes=book.binary_codes)
    assert len(told.quarantine) == 1 and "has_link" in told.quarantine["reason"].iloc[0]

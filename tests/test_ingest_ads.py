"""Paid-campaign exports (issue 18): Meta Ads Manager, LinkedIn Campaign Manager, X Ads → campaigns table;
X legacy promoted columns → posts."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_ingest import NOW, TWEETS_HEADER, check_accounting, tweet, write_rows

from workbench.dataset import parse_card
from workbench.errors import DatasetCardError, InputError
from workbench.ingest import read_exports, read_files, write_ingest_outputs
from workbench.ingest.detect import detect_format
from workbench.schema import CAMPAIGNS_SCHEMA

DATA = Path(__file__).parent / "data" / "ads"


def test_detected_by_header_not_name(tmp_path):
    for name, fmt in [("meta_ads_ads_uah.csv", "meta_ads"), ("meta_ads_campaign_daily_usd.csv", "meta_ads"),
                      ("linkedin_campaign_performance.csv", "linkedin_ads"), ("x_ads_campaigns.csv", "x_ads")]:
        renamed = tmp_path / f"export_{fmt}_{len(name)}.csv"  # a name that says nothing
        shutil.copy(DATA / name, renamed)
        assert detect_format(renamed) == fmt


def test_meta_ad_level_summary_row_excluded_and_currency_from_heading():
    r = read_files([DATA / "meta_ads_ads_uah.csv"], root=DATA)
    check_accounting(r)
    c = r.campaigns
    assert {k: str(c[k].dtype) for k in CAMPAIGNS_SCHEMA} == CAMPAIGNS_SCHEMA
    assert c["ad_name"].tolist() == ["Video A", "Image B", "Carousel C"]
    assert set(c["level"]) == {"ad"} and set(c["currency"]) == {"UAH"} and set(c["ad_platform"]) == {"meta"}
    # the totals row is not counted: spend is the ads' sum only
    assert c["spend"].sum() == pytest.approx(900.00 + 600.50 + 2549.75)
    assert c["impressions"].sum() == 24000
    assert c["result_indicator"].tolist()[:2] == ["actions:offsite_conversion.fb_pixel_lead"] * 2
    q = r.quarantine.set_index("source_row")["reason"]
    assert q[2].startswith("a summary row of totals")
    assert q[6] == "column 'Amount spent (UAH)': 'abc' is not an amount of money"
    f = r.log["files"][0]
    assert (f["table"], f["rows_read"], f["rows_kept"], f["rows_quarantined"]) == ("campaigns", 5, 3, 2)
    assert any("summary row(s) of totals excluded (spend 4,050.25 equals" in w for w in r.log["warnings"])


def _write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Raw Data Report"
    for row in rows:
        ws.append([_cell(v) for v in row])
    wb.save(path)
    return path


def _cell(v: str):
    """Amounts and counts as numbers (a workbook stores them so), the rest (dates, names, '-') as text."""
    try:
        return float(v.replace(",", ""))
    except ValueError:
        return v


def test_meta_xlsx_with_summary_row_reads_like_the_csv(tmp_path):
    with open(DATA / "meta_ads_ads_uah.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    f = _write_xlsx(tmp_path / "Synth-Clinic-Ads-Mar-1-2024-Mar-31-2024.xlsx", rows)
    r = read_files([f], root=tmp_path)
    check_accounting(r)
    assert r.log["files"][0]["format"] == "meta_ads"
    assert r.campaigns["spend"].sum() == pytest.approx(4050.25)
    assert r.campaigns["ad_name"].tolist() == ["Video A", "Image B", "Carousel C"]
    assert r.quarantine["reason"].str.startswith("a summary row of totals").sum() == 1


def test_meta_daily_campaign_rows_and_repeats():
    r = read_files([DATA / "meta_ads_campaign_daily_usd.csv"], root=DATA)
    check_accounting(r)
    c = r.campaigns
    assert len(c) == 3 and set(c["breakdown"]) == {"day"} and set(c["level"]) == {"campaign"}
    assert c["date_start"].dt.strftime("%Y-%m-%d").tolist() == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert (c["date_start"] == c["date_end"]).all()
    assert c["campaign_id"].iloc[0] == "120208000000000001"  # an id is text, never a float
    assert r.log["files"][0]["rows_superseded"] == 1


def test_linkedin_currency_per_row():
    r = read_files([DATA / "linkedin_campaign_performance.csv"], root=DATA)
    check_accounting(r)
    c = r.campaigns
    assert c["currency"].tolist() == ["EUR", "EUR", "USD"]
    assert c["conversions"].tolist() == [3, 2, 4]
    assert c["ad_set_name"].iloc[0] == "Recruitment" and set(c["level"]) == {"ad_set"}


def test_x_ads_time_period_and_grand_total():
    r = read_files([DATA / "x_ads_campaigns.csv"], root=DATA)
    check_accounting(r)
    c = r.campaigns
    assert len(c) == 1 and c["campaign_name"].iloc[0] == "Paper launch"
    assert (c["date_start"].iloc[0], c["date_end"].iloc[0]) == (pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-30"))
    assert c["currency"].iloc[0] == "USD" and c["clicks"].iloc[0] == 350 and c["clicks_all"].iloc[0] == 980
    assert r.quarantine["reason"].iloc[0].startswith("a summary row of totals")


def test_currency_clash_and_clicks_above_impressions_quarantined(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("Reporting starts,Reporting ends,Campaign name,Currency,Impressions,Link clicks,Amount spent (EUR)\n"
                 "2024-01-01,2024-01-31,A,USD,100,5,10\n"
                 "2024-01-01,2024-01-31,B,EUR,100,500,10\n"
                 "2024-01-01,2024-01-31,C,,100,5,-3\n"
                 "2024-13-01,2024-01-31,D,,100,5,3\n", encoding="utf-8")
    r = read_files([f])
    check_accounting(r)
    q = r.quarantine.set_index("source_row")["reason"]
    assert q[2] == "column 'Currency': 'USD' contradicts the spend heading 'Amount spent (EUR)' (EUR)"
    assert q[3] == "link clicks (500) exceed impressions (100)"
    assert q[4] == "column 'Amount spent (EUR)': '-3' is negative (spend cannot be)"
    assert q[5] == "column 'Reporting starts': '2024-13-01' is not a date"
    assert r.campaigns.empty


def test_later_export_supersedes_the_same_rows(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    shutil.copy(DATA / "meta_ads_campaign_daily_usd.csv", a)
    shutil.copy(DATA / "meta_ads_campaign_daily_usd.csv", b)
    r = read_files([a, b], root=tmp_path)
    check_accounting(r)
    assert len(r.campaigns) == 3 and set(r.campaigns["source_file"]) == {"b.csv"}
    logs = {f["file"]: f for f in r.log["files"]}
    assert logs["a.csv"]["rows_superseded"] == 4 and logs["b.csv"]["rows_kept"] == 3


def test_card_campaigns_key_feeds_the_table_and_parquet(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_rows(raw / "tweet_activity_metrics_synthlab_20211101_20211201_en.csv", TWEETS_HEADER,
               [tweet("1465712230054432769", "2021-11-30 16:00 +0000")])
    shutil.copy(DATA / "meta_ads_ads_uah.csv", raw / "ads.csv")
    ds = parse_card({"name": "t", "posts": ["raw/tweet_*.csv"], "campaigns": ["raw/ads.csv"]}, tmp_path)
    r = read_exports(ds, now=NOW)
    assert len(r.campaigns) == 3 and len(r.posts) == 1
    out = write_ingest_outputs(r, data_dir=tmp_path / "data", results_dir=tmp_path / "results")
    assert pd.read_parquet(out["campaigns"])["spend"].sum() == pytest.approx(4050.25)
    # listed as posts: a clear error naming the right key
    bad = parse_card({"name": "t", "posts": ["raw/ads.csv"]}, tmp_path)
    with pytest.raises(InputError, match="feeds the campaigns table"):
        read_exports(bad, now=NOW)
    # no paid data now: the old campaigns.parquet is removed
    r2 = read_exports(parse_card({"name": "t", "posts": ["raw/tweet_*.csv"]}, tmp_path), now=NOW)
    write_ingest_outputs(r2, data_dir=tmp_path / "data", results_dir=tmp_path / "results")
    assert not (tmp_path / "data" / "campaigns.parquet").exists()


def test_card_campaigns_glob_must_match(tmp_path):
    ds = parse_card({"name": "t", "posts": ["x.csv"], "campaigns": ["raw/none_*.csv"]}, tmp_path)
    with pytest.raises(DatasetCardError, match="campaigns pattern 'raw/none_"):
        ds.campaign_files()


def test_x_legacy_promoted_columns(tmp_path):
    rows = [tweet("1465712230054432769", "2021-11-30 16:00 +0000"),
            tweet("1465712230054432770", "2021-11-30 17:00 +0000")]
    at = {h: i for i, h in enumerate(TWEETS_HEADER)}
    rows[1][at["promoted impressions"]] = "5400"
    rows[1][at["promoted engagements"]] = "61"
    rows[1][at["promoted likes"]] = "20"
    f = write_rows(tmp_path / "t.csv", TWEETS_HEADER, rows)
    r = read_files([f], now=NOW)
    check_accounting(r)
    p = r.posts.set_index("post_id")
    assert p.loc["1465712230054432770", "promoted_impressions"] == 5400
    assert p.loc["1465712230054432770", "promoted_engagements"] == 61
    assert bool(p.loc["1465712230054432770", "is_promoted"]) is True
    assert pd.isna(p.loc["1465712230054432769", "promoted_impressions"])
    assert bool(p.loc["1465712230054432769", "is_promoted"]) is False
    # the export's impressions are kept as written: nothing is subtracted
    assert p.loc["1465712230054432770", "impressions"] == 100


def test_facebook_paid_parts_from_real_exports(shared_fixtures):
    fb = sorted((shared_fixtures / "exports" / "facebook").glob("*Post Level*.xls"))
    bs = sorted((shared_fixtures / "exports" / "facebook").glob("Feb-01-2025_*.csv"))
    if not fb or not bs:
        pytest.skip("Facebook fixtures not found")
    r = read_files(fb + bs)
    legacy = r.posts[r.posts["source_format"] == "facebook_legacy_posts"]
    assert legacy["promoted_impressions"].notna().all() and legacy["promoted_reach"].notna().all()
    # paid impressions are a part of total impressions (Facebook's definition), and is_promoted follows them
    assert (legacy["promoted_impressions"] <= legacy["impressions"]).all()
    assert (legacy["is_promoted"] == ((legacy["promoted_impressions"] + legacy["promoted_reach"]) > 0)).all()
    assert legacy["is_promoted"].sum() == 10  # counted by hand in the two LOK exports (19 posts)
    suite = r.posts[r.posts["source_format"] == "meta_bs_fb"]
    assert suite["promoted_reach"].notna().all() and not suite["is_promoted"].any()
    assert suite["promoted_impressions"].isna().all()  # the Business Suite export does not split impressions


def test_amounts_with_decimal_commas_and_symbols():
    from workbench.ingest.ads import parse_amount

    raw = pd.Series(["12,50", "1.234,56", "$1,234.56", "1234.56 USD", "1,234", "-", "", "12.3.4"])
    values, bad, why = parse_amount(raw, label="Amount spent (EUR)")
    assert values.tolist()[:5] == [12.5, 1234.56, 1234.56, 1234.56, 1234.0]
    assert values.isna().tolist()[5:] == [True, True, True]
    assert bad.tolist() == [False] * 7 + [True] and "'12.3.4' is not an amount of money" in why.iloc[7]


def test_meta_export_without_spend_gives_rates_not_costs(tmp_path):
    from workbench.campaigns import summarize_campaigns

    f = tmp_path / "a.csv"
    f.write_text("Reporting starts,Reporting ends,Campaign name,Impressions,Link clicks\n"
                 "2024-01-01,2024-01-31,A,10000,90\n", encoding="utf-8")
    r = read_files([f])
    assert r.campaigns["spend"].isna().all()
    assert any("no spend column" in w for w in r.log["warnings"])
    s = summarize_campaigns(r.campaigns, benchmarks=[]).campaigns[0]
    assert s.metrics["ctr"].value == pytest.approx(0.009)
    assert s.metrics["cpc"].value is None and "spend" in s.metrics["cpc"].note


def test_summary_row_that_disagrees_is_named(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("Reporting starts,Reporting ends,Campaign name,Impressions,Link clicks,Amount spent (USD)\n"
                 "2024-01-01,2024-01-31,,30000,300,500.00\n"
                 "2024-01-01,2024-01-31,A,10000,90,120.00\n", encoding="utf-8")
    r = read_files([f])
    check_accounting(r)
    assert r.campaigns["spend"].tolist() == [120.0]
    assert any("spend 500.00 differs from the 120.00 of the rows read" in w for w in r.log["warnings"])


# ---- LinkedIn Campaign Manager reports as downloaded: lines about the report above the header, maybe tabs ----

_LI_HEADER = ["Account Name", "Currency", "Campaign Group Name", "Campaign Name", "Campaign ID",
              "Campaign Objective", "Total Spent", "Impressions", "Clicks", "Conversions", "Average CTR", "Reach"]
_LI_ROWS = [["Lab", "USD", "Q1", "Trial recruitment", "123456", "Website visits", "250.40", "12000", "85", "3",
             "0.71%", "8000"],
            ["Lab", "USD", "Q1", "Paper, launch", "123457", "Brand awareness", "99.10", "5100", "20", "0", "0.39%",
             "4000"],
            ["Lab", "USD", "Q1", "Broken", "123458", "Brand awareness", "abc", "10", "1", "0", "1%", "4"]]
_LI_PREAMBLE = [["Campaign Performance Report (in UTC)"], ["Report Start: 1/1/2024, 12:00 AM"],
                ["Report End: 1/31/2024, 11:59 PM"], ["Date Generated: 2/2/2024, 9:15 AM"]]


def _li_report(path: Path, *, sep: str, encoding: str, preamble=_LI_PREAMBLE, header=_LI_HEADER, rows=_LI_ROWS):
    import io

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    for row in [*preamble, header, *rows]:
        w.writerow(row)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("sep,encoding", [("\t", "utf-16"), (",", "utf-8"), ("\t", "utf-8-sig")])
def test_linkedin_report_as_downloaded_is_read_with_its_period(tmp_path, sep, encoding):
    f = _li_report(tmp_path / "campaign_performance_report.csv", sep=sep, encoding=encoding)
    r = read_files([f], root=tmp_path)
    check_accounting(r)
    c = r.campaigns
    assert c["campaign_name"].tolist() == ["Trial recruitment", "Paper, launch"]
    assert c["spend"].tolist() == [250.40, 99.10] and c["impressions"].tolist() == [12000, 5100]
    assert c["date_start"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01"] * 2
    assert c["date_end"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31"] * 2
    # row numbers are the file's lines as downloaded (4 lines about the report, then the header on line 5)
    assert c["source_row"].tolist() == [6, 7]
    q = r.quarantine.set_index("source_row")["reason"]
    assert list(q.index) == [8] and "'abc' is not an amount of money" in q[8]
    assert any("4 line(s) about the report above the header skipped" in w and "1/1/2024 to 1/31/2024" in w
               for w in r.log["warnings"])


def test_linkedin_report_with_both_dates_on_one_line_and_a_daily_breakdown(tmp_path):
    header = ["Start Date (in UTC)", *_LI_HEADER]
    rows = [["1/3/2024", *_LI_ROWS[0]], ["1/4/2024", *_LI_ROWS[1]]]
    f = _li_report(tmp_path / "daily.csv", sep=",", encoding="utf-8", header=header, rows=rows,
                   preamble=[["Campaign Performance Report (in UTC)"],
                             ["Report Start: 01/01/2024", " Report End: 01/31/2024"], []])
    r = read_files([f], root=tmp_path)
    c = r.campaigns
    assert c["date_start"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-03", "2024-01-04"]
    assert (c["date_start"] == c["date_end"]).all() and c["source_row"].tolist() == [5, 6]


def test_linkedin_report_without_a_period_says_why_each_row_is_unusable(tmp_path):
    f = _li_report(tmp_path / "no_period.csv", sep=",", encoding="utf-8", preamble=[], rows=_LI_ROWS[:1])
    r = read_files([f], root=tmp_path)
    assert r.campaigns.empty and len(r.quarantine) == 1
    assert r.quarantine["reason"].iloc[0].startswith("no period for this row")


def test_a_hand_edited_file_with_other_lines_above_the_header_is_still_refused(tmp_path):
    f = _li_report(tmp_path / "edited.csv", sep=",", encoding="utf-8",
                   preamble=[["my notes about this"], ["second line, with, commas"]])
    with pytest.raises(InputError, match="line 3 of 6 is the header"):
        read_files([f], root=tmp_path)


def test_a_tab_separated_header_with_a_reach_column_is_not_a_page_series(tmp_path):
    """It was read as a Business Suite series re-save (0 rows, a warning): 'Reach' looked like a metric title."""
    f = _li_report(tmp_path / "tabbed.csv", sep="\t", encoding="utf-16", preamble=[])
    assert detect_format(f) != "meta_bs_page_series"
    r = read_files([f], root=tmp_path)
    assert r.log["files"][0]["format"] == "linkedin_ads"


def test_utf16_with_a_byte_order_mark_gives_no_check_the_characters_warning(tmp_path):
    f = _li_report(tmp_path / "utf16.csv", sep="\t", encoding="utf-16", rows=_LI_ROWS[:2])
    r = read_files([f], root=tmp_path)
    assert len(r.campaigns) == 2 and not any("Check accented characters" in w for w in r.log["warnings"])

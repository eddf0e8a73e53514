"""Write the synthetic look-alike exports of issues 10/11/19 (ingest side) into tests/data/ingest/.

Run once (``python tests/data/ingest/make_semantics_files.py``); the outputs are committed. Every file copies
the exact header and quirks documented in ../shared/FORMATS.md (Business Suite content export: UTF-8 with BOM,
minimal quoting, ``Date`` = ``Lifetime``; page-level series: UTF-16 with a ``sep=,`` line, a title line,
``"Date","Primary"``; LinkedIn followers: sheet ``New followers``), with made-up values.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).parent
META = HERE / "meta"

FB_HEADER = next(csv.reader(io.StringIO((META / "facebook_content.csv").read_text(encoding="utf-8-sig"))))
IG_HEADER = next(csv.reader(io.StringIO((META / "instagram_posts.csv").read_text(encoding="utf-8-sig"))))


def write_csv(path: Path, rows: list[list[str]], *, trim_trailing: set[int] = frozenset()) -> None:
    """UTF-8 with BOM, minimal quoting; rows whose index is in ``trim_trailing`` lose their trailing empty
    fields (as Business Suite writes some rows)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for i, row in enumerate(rows):
        if i in trim_trailing:
            while row and row[-1] == "":
                row = row[:-1]
        w.writerow(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))


def fb_row(pid: str, time: str, *, views="100", reach="80", reactions="5", comments="1", shares="1",
           page="Synth Lab", title="A post") -> list[str]:
    v = dict.fromkeys(FB_HEADER, "")
    v.update({"Post ID": pid, "Page ID": "61500000000000001", "Page name": page, "Title": title,
              "Duration (secs)": "0", "Publish time": time, "Caption type": "N/A",
              "Permalink": f"https://www.facebook.com/permalink.php?story_fbid=pfbid{pid[-4:]}&id=61500000000000001",
              "Is crosspost": "0", "Is share": "0", "Post type": "Photos", "Date": "Lifetime", "Reach": reach,
              "Reactions, comments and shares": str(int(reactions) + int(comments) + int(shares)),
              "Reactions": reactions, "Comments": comments, "Shares": shares, "Total clicks": "2"})
    row = [v[h] for h in FB_HEADER]
    for i, h in enumerate(FB_HEADER):  # "Views" appears twice in this variant
        if h == "Views":
            row[i] = views
    return row


def ig_row(pid: str, time: str, user: str, *, views="500", reach="300") -> list[str]:
    v = {"Post ID": pid, "Account ID": "17841400000000001" if user == "synthlab" else "17841400000000099",
         "Account username": user, "Account name": user.title(), "Description": f"Post {pid[-2:]}",
         "Duration (sec)": "0", "Publish time": time,
         "Permalink": f"https://www.instagram.com/p/SYNTH{pid[-3:]}/", "Post type": "IG image",
         "Data comment": "", "Date": "Lifetime", "Reach": reach, "Likes": "20", "Shares": "2", "Follows": "0",
         "Comments": "3", "Saves": "1", "Views": views}
    return [v[h] for h in IG_HEADER]


def series(path: Path, blocks: list[tuple[str, list[tuple[str, str]] | str]]) -> None:
    """A Business Suite page-level file: UTF-16 LE with BOM, ``sep=,``, blocks of title + Date/Primary rows.

    A block whose rows are a string is a follower total (title line, then the number on its own line)."""
    lines = ["sep=,"]
    for i, (title, rows) in enumerate(blocks):
        if i:
            lines.append("")
        lines.append(f'"{title}"')
        if isinstance(rows, str):
            lines.append(f'"{rows}"')
            continue
        if rows and len(rows[0]) == 3:  # a non-daily table (age and gender): its own header
            lines += [",".join(f'"{c}"' for c in r) for r in rows]
            continue
        lines.append('"Date","Primary"')
        lines += [f'"{d}T00:00:00","{v}"' for d, v in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\r\n".join(lines).encode("utf-16") + "\r\n".encode("utf-16-le"))


def main() -> None:
    # 19.1: short rows (trailing empty fields omitted on rows 2 and 4 of the data)
    rows = [FB_HEADER] + [fb_row(f"1221000000000001{i:02d}", f"03/{10 + i:02d}/2025 1{i}:05") for i in range(4)]
    write_csv(META / "fb_content_short_rows.csv", rows, trim_trailing={1, 3})

    # 19.6: the 2023-24 publish-time bug: minute = month, no hour above 10
    times = ["11/03/2023 09:11", "12/14/2023 02:12", "01/05/2024 10:01", "02/20/2024 07:02", "03/09/2024 00:03"]
    write_csv(META / "fb_content_2024_time_bug.csv",
              [FB_HEADER] + [fb_row(f"1221000000000002{i:02d}", t) for i, t in enumerate(times)])

    # 19.11: one collab post by another account among an account's own posts
    rows = [IG_HEADER] + [ig_row(f"180000000000001{i:02d}", f"0{1 + i % 9}/1{i % 10}/2025 12:00", "synthlab")
                          for i in range(12)]
    rows.append(ig_row("18000000000000199", "05/05/2025 18:30", "partner_creator"))
    write_csv(META / "ig_content_collab.csv", rows)

    # 19.2: two exports of the same page tie on the latest publish time; the later-named one has Views 0
    good = [fb_row(f"1221000000000003{i:02d}", f"04/0{i + 1}/2025 10:00", views=str(100 + i), reach=str(60 + i))
            for i in range(3)]
    bad = [fb_row(f"1221000000000003{i:02d}", f"04/0{i + 1}/2025 10:00", views="0", reach="0", reactions="0",
                  comments="0", shares="0") for i in range(3)]
    write_csv(META / "overlap" / "Apr-01-2025_Apr-30-2025_111.csv", [FB_HEADER, *good])
    write_csv(META / "overlap" / "Apr-01-2025_Apr-30-2025_222.csv", [FB_HEADER, *bad])

    # 19.4/19.5/19.10: one export of a Facebook page's series, some titles without a platform word
    exp = META / "page_export_fb"
    days = [("2025-08-01", "20"), ("2025-08-02", "12"), ("2025-08-03", "9")]
    series(exp / "Follows.csv", [("Facebook follows", days)])
    series(exp / "Views.csv", [("Views", [("2025-08-01", "1500"), ("2025-08-02", "1200"), ("2025-08-03", "900")])])
    series(exp / "Interactions.csv", [("Content interactions", [("2025-08-01", "30"), ("2025-08-02", "25")])])
    series(exp / "Interactions (1).csv", [("Content interactions", [("2025-08-01", "31"), ("2025-08-02", "27"),
                                                                   ("2025-08-03", "19")])])
    series(exp / "Reach.csv", [("Facebook reach", [("2025-08-01", "900"), ("2025-08-02", "700")])])
    series(exp / "Visits.csv", [("Facebook visits", [("2025-08-01", "44"), ("2025-08-02", "38")])])
    series(exp / "Link clicks.csv", [("Facebook link clicks", [("2025-08-01", "7"), ("2025-08-02", "3")])])
    series(exp / "Audience.csv", [("Facebook followers", "30222"),
                                  ("Age & gender", [("Age", "Women", "Men"), ("18-24", "10.5", "8.1")]),
                                  ("Facebook follows", days)])
    # an Audience.csv alone (no daily series in it or next to it): its total's date is unknown
    series(META / "audience_alone" / "Audience.csv", [("Instagram followers", "3098")])

    # 19.4: a folder with Facebook and Instagram series and a series naming no platform: ambiguous
    amb = META / "page_export_mixed"
    series(amb / "Follows.csv", [("Facebook follows", days)])
    series(amb / "Follows (1).csv", [("Instagram follows", days)])
    series(amb / "Views.csv", [("Views", days)])

    # 19.7: LinkedIn followers as .xlsx with the newer Auto-invited followers column
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "New followers"
    ws.append(["Date", "Sponsored followers", "Organic followers", "Auto-invited followers", "Total followers"])
    for d, s, o, a in [("03/14/2025", 0, 3, 1), ("03/15/2025", 1, 2, 0), ("03/16/2025", 0, 0, 2)]:
        ws.append([d, s, o, a, s + o + a])
    for title, header in [("Location", ["Location", "Total followers"]), ("Job function", ["Job function",
                                                                                           "Total followers"])]:
        other = wb.create_sheet(title)
        other.append(header)
        other.append(["Oslo", 12])
    out = HERE / "linkedin" / "synthlab_followers_1742193384396.xlsx"
    wb.save(out)


if __name__ == "__main__":
    main()

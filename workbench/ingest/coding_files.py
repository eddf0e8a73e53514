"""Manual coding files (DESIGN.md §3, contract): ``post_id``, ``coder``, then one column per code.

Binary codes hold 0/1 (also accepted: ``0.0``/``1.0``, ``yes``/``no``, ``true``/``false``, any case;
stored as ``"0"``/``"1"``); categorical codes hold a level name (stored as written, stripped). An empty
cell means "not coded" and yields no row, so a code column that is entirely empty is fine.

Which codes are binary: the ``binary_codes`` given by the caller (e.g. from the codebook); otherwise a
code is taken as binary when at least 90 % of its non-empty values are binary tokens. Rows are
quarantined when post_id or coder is empty, when post_id looks like a number Excel rewrote in
scientific notation (``1.46e+18``: the digits are lost), or when a binary code holds anything else.
A post coded twice by the same coder in one file: the later row wins, the earlier counts as superseded.
A ``coded_at`` column (the time stamp the coding panel writes) is metadata, not a code, and is skipped.

Output (format ``coding_csv``): the long table of ``CODES_SCHEMA`` (post_id, coder, code, value,
source_file, source_row) plus ``source_format``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import FileOutcome, ParseContext, Reasons, file_quarantine, normalize_name
from .rawcsv import RawTable

FORMAT = "coding_csv"
BINARY_TOKENS = {"0": "0", "1": "1", "0.0": "0", "1.0": "1", "no": "0", "yes": "1", "false": "0", "true": "1"}
BINARY_SHARE = 0.9
#: Columns after post_id and coder that are metadata, not codes (compared after normalize_name).
METADATA_COLUMNS = ("coded_at",)


def matches_coding(header: list[str], column_map=None) -> bool:
    """True when the first two columns are ``post_id`` and ``coder``."""
    norm = [normalize_name(h) for h in header]
    return norm[:2] == ["post_id", "coder"]


def parse_coding(raw: RawTable, ctx: ParseContext) -> FileOutcome:
    """Coding CSV → long codes rows (see the module docstring)."""
    d = raw.data
    names = list(d.columns)
    id_col, coder_col = names[0], names[1]
    code_cols = [c for c in names[2:] if normalize_name(c) not in METADATA_COLUMNS]
    reasons = Reasons(d.index)
    post_id = d[id_col].str.strip()
    coder = d[coder_col].str.strip()
    reasons.add(post_id == "", "empty post_id")
    reasons.add(coder == "", "empty coder")
    sci = post_id.str.fullmatch(r"[0-9]([.,][0-9]+)?[eE][+]?[0-9]+")  # 1.46E+18, and 1,46E+18 (comma locales)
    reasons.add(sci, lambda: "post_id '" + post_id + "' is in scientific notation (digits lost, e.g. by Excel); "
                "store ids as text")
    values = {}
    for col in code_cols:
        v = d[col].str.strip()
        filled = v != ""
        low = v.str.lower()
        is_token = low.isin(list(BINARY_TOKENS))
        if ctx.binary_codes is not None:
            binary = col in ctx.binary_codes
        else:
            binary = bool(filled.any()) and is_token[filled].mean() >= BINARY_SHARE
        if binary:
            reasons.add(filled & ~is_token,
                        lambda v=v, col=col: f"column {col!r} (binary code): '" + v + "' is not 0/1 (or yes/no, true/false)")
            v = low.map(BINARY_TOKENS).where(filled, "")
        values[col] = v
    dup_key = pd.DataFrame({"p": post_id, "c": coder})
    valid = ~reasons.bad
    dup = np.zeros(len(d), dtype=bool)
    dup[np.flatnonzero(valid)] = dup_key[valid].duplicated(keep="last").to_numpy()
    keep = valid & ~dup
    wide = pd.DataFrame({"post_id": post_id, "coder": coder, "source_row": raw.rows, **values})[keep]
    long = wide.melt(id_vars=["post_id", "coder", "source_row"], value_vars=code_cols, var_name="code",
                     value_name="value") if code_cols else pd.DataFrame(columns=["post_id", "coder", "source_row",
                                                                                  "code", "value"])
    long = long[long["value"].astype(str) != ""].sort_values(["source_row", "code"], kind="stable")
    long["source_file"] = ctx.source_file
    long["source_format"] = FORMAT
    frame = long[["post_id", "coder", "code", "value", "source_file", "source_row", "source_format"]]
    quarantine = file_quarantine(raw, reasons, source_file=ctx.source_file)
    warnings = list(raw.warnings)
    n_read = len(d) + len(raw.bad)
    if n_read == 0:
        warnings.append(f"{ctx.source_file}: header only, no data rows")
    if sci.any():  # quarantined row by row; said once here too, because every decision of those rows is lost
        warnings.append(
            f"{ctx.source_file}: {int(sci.sum())} rows have a post_id in scientific notation (e.g. "
            f"{post_id[sci].iloc[0]!r}): a spreadsheet rounded the ids, so those decisions cannot be matched to "
            "posts and were quarantined. Re-export the sheet with the id column formatted as text")
    empty = [c for c in code_cols if (d[c].str.strip() == "").all()] if len(d) else []
    if empty:
        warnings.append(f"{ctx.source_file}: code columns with no values (not coded): {empty}")
    return FileOutcome(file=ctx.source_file, format=FORMAT, table="codes", frame=frame.reset_index(drop=True),
                       quarantine=quarantine, rows_read=n_read,
                       rows_superseded=int(dup.sum()), warnings=warnings, kept_rows=int(keep.sum()))

"""Spreadsheet workbooks as text: Excel 97–2003 (``.xls``, BIFF in an OLE2 container), XML Spreadsheet 2003 and
Excel ``.xlsx`` (read with python-calamine: LinkedIn's newer exports, any export saved again from Excel).

Platforms ship ``.xls`` files of two kinds: LinkedIn's are binary BIFF workbooks (read with ``xlrd``);
Facebook's legacy Insights ``.xls`` is really XML Spreadsheet 2003 text (read with the standard XML parser,
through ``defusedxml`` when it is installed). Both become a :class:`Workbook` of sheets whose cells are text
(``""`` when empty), so the format readers treat them like CSV rows: :func:`sheet_table` turns a sheet into
the same :class:`~workbench.ingest.rawcsv.RawTable` a CSV export gives, with spreadsheet row numbers.

Cell text: numbers are written without a trailing ``.0`` when whole (``221231``), otherwise with Python's
shortest round-trip repr (``0.07692307978868484``); date cells become ISO text (``2025-03-14`` or
``2025-03-14T10:00:00``); XML DateTime cells keep their text (``2017-07-22T05:30:00.000``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .common import normalize_name
from .rawcsv import STRING, RawTable, unique_names

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEETML_NS = "urn:schemas-microsoft-com:office:spreadsheet"
_SS = "{" + SPREADSHEETML_NS + "}"

#: Characters XML 1.0 forbids (control characters other than tab/newline/CR, surrogates, U+FFFE/U+FFFF).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Sheet:
    """One worksheet: ``rows`` of cell text and each row's spreadsheet row number (1-based) in ``numbers``."""

    name: str
    rows: list[list[str]]
    numbers: list[int]


@dataclass
class Workbook:
    """A workbook's sheets by name, in file order; ``container`` is ``biff`` or ``spreadsheetml``."""

    path: Path
    container: str
    sheets: dict[str, Sheet]
    warnings: list[str] = field(default_factory=list)

    def sheet(self, *prefixes: str) -> Sheet | None:
        """The first sheet whose normalised name starts with one of ``prefixes`` (normalised), else None."""
        keys = [normalize_name(p) for p in prefixes]
        for name, sheet in self.sheets.items():
            n = normalize_name(name)
            if any(n.startswith(k) for k in keys):
                return sheet
        return None


def is_xlsx(path: str | Path) -> bool:
    """True when the file is an Excel ``.xlsx`` workbook (a zip holding ``[Content_Types].xml`` and ``xl/``)."""
    import zipfile

    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def sniff_workbook(head: bytes) -> bool:
    """True when a file's first bytes are an OLE2 (BIFF ``.xls``), an XML Spreadsheet 2003 document or an
    ``.xlsx`` (a zip whose first entries name ``[Content_Types].xml`` or ``xl/``; confirmed when loaded)."""
    if head.startswith(OLE2_MAGIC):
        return True
    if head.startswith(b"PK\x03\x04"):
        return b"[Content_Types].xml" in head or b"xl/" in head
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith((b"<?xml", b"<Workbook", b"<ss:Workbook")) and SPREADSHEETML_NS.encode() in head


def read_workbook(path: str | Path, *, label: str | None = None) -> Workbook:
    """Read a BIFF ``.xls`` or an XML Spreadsheet 2003 file into a :class:`Workbook` of text cells."""
    path = Path(path)
    label = label or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot open the file ({exc.strerror}); expected a spreadsheet workbook", file=label) from None
    if data.startswith(OLE2_MAGIC):
        return _read_biff(path, data, label=label)
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, label=label)
    return read_spreadsheetml(data, path=path, label=label)


def _cell_text(v) -> str:
    """A python-calamine cell value as text, the way :func:`_read_biff` writes cells."""
    import datetime as dt

    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return _number_text(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if v.time() == dt.time() else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _read_xlsx(path: Path, *, label: str) -> Workbook:
    """An ``.xlsx`` workbook read with python-calamine (Rust; no formulas evaluated, values as saved)."""
    from python_calamine import CalamineWorkbook

    if not is_xlsx(path):
        raise InputError("the file is a zip archive, not an Excel .xlsx workbook", file=label)
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheets: dict[str, Sheet] = {}
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            start_row = (sheet.start or (0, 0))[0] if sheet.height else 0
            start_col = (sheet.start or (0, 0))[1] if sheet.height else 0
            rows = [[""] * start_col + [_cell_text(v) for v in row] for row in sheet.to_python(skip_empty_area=True)]
            sheets[name] = Sheet(name, rows, list(range(start_row + 1, start_row + 1 + len(rows))))
    except InputError:
        raise
    except Exception as exc:  # calamine raises its own errors for damaged or encrypted workbooks
        raise InputError(f"cannot read the Excel workbook ({type(exc).__name__}: {exc}); expected an .xlsx export "
                         "(is it password-protected or damaged?)", file=label) from None
    return Workbook(path=path, container="xlsx", sheets=sheets)


def _number_text(v: float) -> str:
    """A numeric cell as text: ``26`` for whole numbers, else the shortest round-trip form."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def _read_biff(path: Path, data: bytes, *, label: str) -> Workbook:
    try:
        import xlrd
    except ImportError:  # pragma: no cover - xlrd is a dependency
        raise InputError("reading Excel 97-2003 (.xls) workbooks needs the xlrd package (pip install xlrd)",
                         file=label) from None
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=False)
    except Exception as exc:  # xlrd raises its own XLRDError and struct errors for broken files
        raise InputError(f"cannot read the Excel workbook ({exc}); expected an Excel 97-2003 .xls export",
                         file=label) from None
    sheets: dict[str, Sheet] = {}
    for sh in book.sheets():
        rows, numbers = [], []
        for r in range(sh.nrows):
            types = sh.row_types(r)
            values = sh.row_values(r)
            cells = []
            for t, v in zip(types, values, strict=True):
                if t == xlrd.XL_CELL_TEXT:
                    cells.append(v)
                elif t == xlrd.XL_CELL_NUMBER:
                    cells.append(_number_text(v))
                elif t == xlrd.XL_CELL_DATE:
                    dt = xlrd.xldate_as_datetime(v, book.datemode)
                    cells.append(dt.strftime("%Y-%m-%d") if dt.time() == dt.min.time() else dt.isoformat())
                elif t == xlrd.XL_CELL_BOOLEAN:
                    cells.append("TRUE" if v else "FALSE")
                elif t == xlrd.XL_CELL_ERROR:
                    cells.append(xlrd.error_text_from_code.get(v, "#ERROR"))
                else:
                    cells.append("")
            rows.append(cells)
            numbers.append(r + 1)
        sheets[sh.name] = Sheet(sh.name, rows, numbers)
    return Workbook(path=path, container="biff", sheets=sheets)


def _xml_parser():
    try:
        from defusedxml import ElementTree as safe_et  # refuses entity expansion attacks
        return safe_et.fromstring, safe_et.ParseError
    except ImportError:  # pragma: no cover - depends on the environment
        import xml.etree.ElementTree as std_et
        return std_et.fromstring, std_et.ParseError


def clean_xml_text(data: bytes) -> tuple[str, int, int]:
    """Decode XML bytes as UTF-8 leniently; return ``(text, invalid byte sequences, invalid characters)``.

    Invalid UTF-8 byte sequences become U+FFFD and characters XML 1.0 forbids are removed, so a file with a
    few broken bytes (seen in real Facebook exports) still parses.
    """
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    bad_bytes = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    text, bad_chars = _INVALID_XML.subn("", text)
    # The parser gets a str: drop the declared encoding, which no longer applies.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    return text, bad_bytes, bad_chars


def read_spreadsheetml(data: bytes, *, path: str | Path = "", label: str | None = None) -> Workbook:
    """Parse XML Spreadsheet 2003 bytes into a :class:`Workbook` (``ss:Index`` gaps and merges honoured)."""
    label = label or str(path)
    text, bad_bytes, bad_chars = clean_xml_text(data)
    fromstring, parse_error = _xml_parser()
    try:
        root = fromstring(text)
    except parse_error as exc:
        raise InputError(f"cannot parse the XML spreadsheet ({exc}); expected an XML Spreadsheet 2003 document",
                         file=label) from None
    except Exception as exc:  # defusedxml's refusals (entities, DTDs)
        raise InputError(f"refused to parse the XML ({type(exc).__name__}: {exc})", file=label) from None
    if root.tag != f"{_SS}Workbook":
        raise InputError(f"the XML root is {root.tag!r}, not an XML Spreadsheet 2003 Workbook", file=label)
    warnings = []
    if bad_bytes or bad_chars:
        warnings.append(f"{label}: {bad_bytes} invalid UTF-8 byte sequence(s) replaced by U+FFFD and "
                        f"{bad_chars} character(s) not allowed in XML removed before parsing")
    sheets: dict[str, Sheet] = {}
    for ws in root.iter(f"{_SS}Worksheet"):
        name = ws.get(f"{_SS}Name", f"Sheet{len(sheets) + 1}")
        rows, numbers = [], []
        r = 0
        for table in ws.iter(f"{_SS}Table"):
            for row in table.iter(f"{_SS}Row"):
                idx = row.get(f"{_SS}Index")
                r = int(idx) if idx else r + 1
                cells: list[str] = []
                for cell in row.iter(f"{_SS}Cell"):
                    cidx = cell.get(f"{_SS}Index")
                    if cidx:
                        cells.extend([""] * (int(cidx) - 1 - len(cells)))
                    d = cell.find(f"{_SS}Data")
                    cells.append("" if d is None else "".join(d.itertext()))
                    merge = cell.get(f"{_SS}MergeAcross")
                    if merge:
                        cells.extend([""] * int(merge))
                rows.append(cells)
                numbers.append(r)
        sheets[name] = Sheet(name, rows, numbers)
    return Workbook(path=Path(path), container="spreadsheetml", sheets=sheets, warnings=warnings)


def find_header(sheet: Sheet, required: tuple[str, ...], *, scan: int = 10) -> int | None:
    """Index (in ``sheet.rows``) of the first of the first ``scan`` rows that holds every ``required`` name.

    Names are compared normalised (case, spaces); a description line above the header is skipped this way.
    """
    keys = {normalize_name(k) for k in required}
    for i, row in enumerate(sheet.rows[:scan]):
        if keys <= {normalize_name(c) for c in row}:
            return i
    return None


def sheet_table(sheet: Sheet, header_at: int, *, path: Path, names: list[str] | None = None,
                data_from: int | None = None, warnings: list[str] | None = None) -> RawTable:
    """A sheet as a :class:`RawTable`: the header row ``header_at``, data from ``data_from`` (default the next row).

    ``names`` replaces the header cells (e.g. made unique with a second header row). Rows whose cells are all
    empty are skipped (counted in ``blank_rows``); a row with non-empty cells beyond the header's width goes
    to ``bad`` with a reason, like a CSV row with too many fields.
    """
    header = list(names) if names is not None else [c.strip() for c in sheet.rows[header_at]]
    width = len(header)
    cols = unique_names(header)
    start = header_at + 1 if data_from is None else data_from
    good: list[list[str]] = []
    good_rows: list[int] = []
    bad = []
    blank = 0
    for cells, number in zip(sheet.rows[start:], sheet.numbers[start:], strict=True):
        if all(c.strip() == "" for c in cells):
            blank += 1
            continue
        if len(cells) > width and any(c.strip() != "" for c in cells[width:]):
            rec = {"source_row": number,
                   "reason": f"too many cells: expected {width} (the header's width), found {len(cells)}"}
            rec.update(dict(zip(cols, cells, strict=False)))
            rec["extra_fields"] = ",".join(cells[width:])
            bad.append(rec)
            continue
        good.append(cells[:width] + [""] * (width - len(cells)))
        good_rows.append(number)
    columns = list(zip(*good, strict=True)) if good else [()] * width
    data = pd.DataFrame({c: pd.array(list(v), dtype=STRING) for c, v in zip(cols, columns, strict=True)})
    bad_df = pd.DataFrame(bad) if bad else pd.DataFrame(columns=["source_row", "reason", *cols])
    return RawTable(path=path, header=header, data=data, rows=np.asarray(good_rows, dtype=np.int64), bad=bad_df,
                    warnings=list(warnings or []), blank_rows=blank)

"""Interactive panels for analysts (ipywidgets) — never needed by batch runs.

:class:`CodingPanel` shows one post at a time for manual coding with a codebook. All its logic lives in
plain methods (``set_code``, ``next``, ``back``, ``skip``, ``handle_key``, ``progress``) that tests drive
without a browser; the widgets only call them.

**Blind coding.** The panel keeps only the post's id, text, date and link: metrics (impressions,
engagements, ...) are dropped when the panel is built, so no widget can show them. The link to the post on
the platform is not shown by default, because the platform's page shows the metrics; ``show_link=True``
shows it with that warning.

**Every decision is saved at once.** Each decision appends one line — ``post_id, coder, <one column per
code>, coded_at`` — holding the post's full current codes (empty = not decided yet) to the coder's CSV
(DESIGN.md §3; ingest skips the ``coded_at`` column). The line is written with a single ``os.write`` on a
file descriptor opened with ``O_APPEND`` and then ``fsync``-ed, so closing the browser or killing the kernel
loses no decision that was shown as saved. Why append instead of temp file + rename: the file is a log of
decisions that grows by one short line per click; rewriting it each time would cost O(file) per click and
O(n²) over a session, and appending keeps the history (who decided what, when). A crash can at worst leave
the last line torn; :class:`CoderFile` removes only such a truly incomplete line when the file is reopened.

**One writer per coder file.** A panel holds an exclusive lock on its file (:class:`CoderFileLock`); a
second panel on the same file in another process is refused with a message naming the holder's pid and
host; a panel re-created in the same kernel (a re-run cell) takes over from the earlier one.

**The latest row wins.** A re-decision appends a new row; when the file is read back (by the panel on
reopening, and by ingest: "the later row wins" for the same post and coder) the last row of a post is its
final state — file order, not the ``coded_at`` clock. Reopening resumes at the first post not yet coded.

**Keys** (ipyevents; active while the mouse pointer is over the panel): ``y``/``1`` yes and ``n``/``0`` no
for a yes/no code, ``1``…``9`` the levels of a categorical code; the choice applies to the highlighted code
and moves the highlight to the next code; ``↑``/``↓`` move the highlight; ``Backspace`` clears the
highlighted code; ``Enter`` or ``→`` next post, ``←`` back, ``s`` skip.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import html
import io
import json
import os
import re
import shutil
import socket
import time
import warnings as pywarnings
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd

from .coding import (
    ADJUDICATOR,
    Codebook,
    _looks_like_formula,
    disagreement_posts,
    load_codebook,
    sample_overlap,
)
from .errors import InputError
from .ingest.coding_files import BINARY_TOKENS as _BINARY_TOKENS
from .ingest.common import normalize_name
from .ingest.rawcsv import CR_ONLY, decode_bytes
from .io import write_text
from .schema import check_columns

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: The only columns of the posts table a coder sees.
DISPLAY_COLUMNS = ("post_id", "published_at", "text", "permalink")
MODES = ("all", "overlap", "adjudicate")
_YES = {"1", "1.0", "true", "yes", "y"}
_NO = {"0", "0.0", "false", "no", "n"}
#: Key names (as the browser's ``KeyboardEvent.key``) and what they do; see the module docstring.
NEXT_KEYS = ("Enter", "ArrowRight")
BACK_KEYS = ("ArrowLeft",)
SKIP_KEYS = ("s", "S")
CLEAR_KEYS = ("Backspace", "Delete")


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` with one ``os.write`` on an O_APPEND descriptor and fsync; undo a partial write."""
    created = not path.exists()
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"only {written} of {len(data)} bytes written (disk full?)")
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)  # never leave half a decision behind
            raise
    finally:
        os.close(fd)
    if created and hasattr(os, "O_DIRECTORY"):  # make the new file's directory entry durable too
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _csv_line(values: list[str], newline: str = "\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow(values)
    return buf.getvalue()



# --- the coder's file: one writer, read back whatever a spreadsheet or a crash left -----------------------

#: A time stamp as the panel writes it (``coded_at``): a torn last line ends in a partial one.
_STAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
#: A post id Excel rewrote in scientific notation (its digits are lost).
_SCI_RE = r"[0-9]([.,][0-9]+)?[eE][+]?[0-9]+"  # 1.46E+18, and 1,46E+18 (comma locales)
#: Coder files opened for writing by panels of this process: resolved path -> the panel's CoderFile.
_OPEN: dict[str, CoderFile] = {}


class CoderFileBusyError(InputError):
    """The coder file is open for writing in another coding panel (another process holds its lock)."""


def _host() -> str:
    return socket.gethostname() or "unknown host"


class CoderFileLock:
    """An exclusive lock on a coder file: ``.<name>.lock`` beside it, held with ``flock``, naming its holder.

    The kernel releases a ``flock`` when its holder dies, so the lock of a crashed panel (kill -9, a kernel
    restart, a power cut) is free at once and is taken over without any guess about stale pids; the pid, host
    and start time written into the lock file are only there to tell a second panel who holds the file.
    On platforms without ``fcntl`` (Windows) the lock is not enforced and says so in ``warning``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self._fd: int | None = None
        self.warning = ""

    def acquire(self, *, coder: str) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            self.warning = f"{self.path}: one writer per coder file is not enforced on this platform (no fcntl)"
            return
        for _ in range(20):  # retried only when the lock file was replaced under us
            try:
                self.lock_path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise InputError(
                    f"cannot create the lock file {self.lock_path.name} beside the coder file "
                    f"({exc.strerror or exc}); the coding folder must be writable", file=self.path
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise CoderFileBusyError(
                    f"this coder file is already open in another coding panel ({self._holder()}). One panel "
                    "per coder file: close the other one (panel.close(), or shut down its notebook's kernel) "
                    "and open this one again. A panel that crashed holds no lock.",
                    file=self.path,
                ) from None
            try:  # the lock file we locked must still be the one at lock_path (a releaser may unlink it)
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:  # pragma: no cover - needs 20 replacements in a row
            raise CoderFileBusyError("could not lock the coder file: its lock keeps changing", file=self.path)
        holder = {"pid": os.getpid(), "host": _host(), "coder": coder,
                  "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)
        self._fd = fd

    def _holder(self) -> str:
        try:
            info = json.loads(self.lock_path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        if not info:
            return "holder unknown"
        here = info.get("host") == _host() and info.get("pid") == os.getpid()
        who = "a panel in this same process" if here else f"pid {info.get('pid')} on {info.get('host')}"
        return f"{who}, coder {info.get('coder')!r}, since {info.get('since')}"

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.lock_path.unlink(missing_ok=True)  # unlink while locked: a waiter then re-checks the inode
        finally:
            os.close(fd)  # releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None or fcntl is None


@dataclass
class _FileState:
    columns: list[str]  # the file's columns after any migration (post_id, coder, ..., coded_at)
    newline: str  # what each appended line ends with ("\n" or "\r\n")
    decisions: dict[str, dict[str, str]]  # latest values per post (codes of the codebook only)
    extras: dict[str, dict[str, str]]  # latest values per post of the columns the codebook does not know
    warnings: list[str]


class CoderFile:
    """One coder's coding file, opened by one panel: locked, read back, repaired, then appended to.

    Reading accepts what a coder may bring: a file the panel wrote, or one made in a spreadsheet or an editor
    (without ``coded_at``, columns in any order, codes the codebook does not define, UTF-8 with or without
    BOM, Windows-1252, UTF-16, LF, CRLF or CR-only line ends, no final newline). What it changes, it says in
    ``warnings``; every rewrite (new columns, another encoding, CR-only line ends) is atomic and keeps the
    original in ``.workbench-backup/`` beside the file. Only a truly incomplete last line — one a crash cut
    in the middle of the panel's write: too few fields, an open quote, or a partial ``coded_at`` stamp — is
    removed; a complete last line without its final newline gets the newline.
    """

    def __init__(self, path: str | Path, *, coder: str, codebook: Codebook) -> None:
        self.path = Path(path)
        self.coder = coder
        self.codebook = codebook
        self.names = list(codebook.names)
        if self.path.is_dir():
            raise InputError("is a folder; expected the coder's CSV file (e.g. coding/coder_a.csv)", file=self.path)
        self.lock = CoderFileLock(self.path)
        key = str(self.path.resolve())
        earlier = _OPEN.get(key)
        if earlier is not None:  # the same file re-opened in this kernel (a re-run cell): the newer panel wins
            earlier.close(reason="a newer panel in this kernel opened the same file")
        self.lock.acquire(coder=coder)
        self.closed_reason = ""
        _OPEN[key] = self
        self._key = key
        try:
            state = self._load()
        except BaseException:
            self.close(reason="the file could not be read")
            raise
        if self.lock.warning:
            state.warnings.insert(0, self.lock.warning)
        if earlier is not None:
            state.warnings.insert(0, f"{self.path}: an earlier panel on this file in this kernel was closed; "
                                     "only the newest panel saves")
        self.columns, self.newline = state.columns, state.newline
        self.decisions, self.extras, self.warnings = state.decisions, state.extras, state.warnings

    # --- open / close ---------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return bool(self.closed_reason)

    def close(self, *, reason: str = "closed") -> None:
        """Release the lock; later appends are refused with ``reason``."""
        if not self.closed_reason:
            self.closed_reason = reason
        self.lock.release()
        if _OPEN.get(self._key) is self:
            del _OPEN[self._key]

    def __del__(self) -> None:  # a panel dropped without close(): free the lock
        try:
            self.lock.release()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    # --- writing --------------------------------------------------------------------------------------------

    def append(self, post_id: str, codes: dict[str, str]) -> None:
        """Append one line: the post's full current codes (and its carried-over extra columns), stamped."""
        if self.closed:
            raise InputError(f"this panel no longer saves to the file ({self.closed_reason}); use the newest "
                             "panel, or open a new one", file=self.path)
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        values = {**self.extras.get(post_id, {}), **codes, "post_id": post_id, "coder": self.coder,
                  "coded_at": stamp}
        line = _csv_line([values.get(c, "") for c in self.columns], self.newline)
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        data = (_csv_line(self.columns, self.newline) if new_file else "") + line
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _append(self.path, data.encode("utf-8"))
        self.decisions[post_id] = dict(codes)

    # --- reading --------------------------------------------------------------------------------------------

    def _canonical(self, header: list[str] | None = None) -> list[str]:
        """Columns to write: post_id, coder, the file's other columns, missing codebook codes, coded_at."""
        middle = [c for c in (header or [])[2:] if c != "coded_at"]
        return ["post_id", "coder", *middle, *[n for n in self.names if n not in middle], "coded_at"]

    def _load(self) -> _FileState:
        warnings: list[str] = []
        if not self.path.exists() or self.path.stat().st_size == 0:
            return _FileState(self._canonical(), "\n", {}, {}, warnings)
        raw = self.path.read_bytes()
        utf8, encoding = decode_bytes(raw, file=self.path)
        text = utf8.decode("utf-8")
        rewrite: list[str] = []
        cr_only = encoding.endswith(CR_ONLY)  # decode_bytes already turned CR-only line ends into LF
        encoding = encoding.removesuffix(CR_ONLY)
        if encoding not in ("utf-8", "utf-8-sig"):
            rewrite.append(f"it was {encoding}, not UTF-8")
        body = text.replace("\r\n", "")
        if cr_only or ("\r" in body and "\n" not in body):  # classic Mac OS / Excel for Mac "CSV (Macintosh)"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            rewrite.append("its lines ended in CR only (old Mac Excel)")
        first_end = text.find("\n")
        newline = "\r\n" if first_end > 0 and text[first_end - 1] == "\r" else "\n"

        # a last line without its newline: complete (keep it, add the newline) or torn by a crash (remove it)
        torn_bytes = b""
        pending: tuple | None = None  # the repair, made only once the whole file has been read without error
        if text and not text.endswith("\n"):
            cut = text.rfind("\n") + 1
            tail = text[cut:]
            if self._torn(text[:cut], tail.rstrip("\r")):
                torn_bytes = tail.encode("utf-8")
                text = text[:cut]
                warnings.append(f"{self.path}: the last line was incomplete (a write interrupted by a crash) "
                                f"and was removed: {tail[:80]!r}")
                pending = ("truncate", len(raw) - len(torn_bytes))
            else:
                end = "\n" if tail.endswith("\r") else newline
                text += end
                pending = ("append", end.encode("utf-8"))
                warnings.append(f"{self.path}: the last line had no final newline; it is complete and kept "
                                "(a newline was added)")
        if not text.strip():
            self._repair(pending, text if rewrite else None, rewrite, warnings)
            return _FileState(self._canonical(), newline, {}, {}, warnings)

        try:
            with pywarnings.catch_warnings():  # a line longer than the header would be cut: an error here
                pywarnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True,
                                 index_col=False)
        except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
            raise InputError(
                f"not a well-formed CSV file ({' '.join(str(exc).split())}); every line needs one value per "
                "header column (put values with commas in double quotes). The file was not changed",
                file=self.path) from None
        df = df.fillna("")
        header = [normalize_name(str(c)) for c in df.columns]
        if header[:2] != ["post_id", "coder"]:
            raise InputError(
                f"a coding file starts with the columns post_id, coder; found {list(df.columns)[:4]}. Is this the "
                "coder's file?", file=self.path)
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise InputError(f"columns {dupes} appear more than once in the header", file=self.path)
        df.columns = header
        columns = self._canonical(header)
        extra = [c for c in header[2:] if c != "coded_at" and c not in self.names]
        if extra:
            warnings.append(
                f"{self.path}: columns {extra} are not codes of the codebook ({self.names}); they are kept as "
                "they are (not shown, carried into new lines). If a code was renamed, rename its column too")
        if columns != header:
            missing = [c for c in columns if c not in header]
            rewrite.append(f"columns {missing} were added" + (" and coded_at moved last"
                                                            if "coded_at" in header and "coded_at" not in missing
                                                            else ""))
            df = df.reindex(columns=columns, fill_value="")
        decisions, extras = self._decisions(df, warnings)  # raises (file untouched) on another coder's rows
        new_text = None
        if rewrite:
            buf = io.StringIO()
            df.to_csv(buf, index=False, lineterminator=newline)
            new_text = buf.getvalue()
        self._repair(pending, new_text, rewrite, warnings)
        return _FileState(columns, newline, decisions, extras, warnings)

    def _repair(self, pending: tuple | None, new_text: str | None, reasons: list[str], warnings: list[str]) -> None:
        """Write what reading found necessary: a whole new file (``new_text``), else cut a torn last line or
        add a missing final newline."""
        if new_text is not None:
            self._rewrite(new_text, reasons, warnings)
        elif pending is not None and pending[0] == "truncate":
            os.truncate(self.path, pending[1])
        elif pending is not None:
            _append(self.path, pending[1])

    def _torn(self, head: str, tail: str) -> bool:
        """Whether ``tail`` (the last line, without a final newline) was cut short by a crash."""
        if not head:  # the header line itself: torn when it is a strict prefix of the header the panel writes
            full = _csv_line(self._canonical(), "")
            return tail != full and full.startswith(tail)
        if tail.count('"') % 2:
            return True  # an open quote
        header = [normalize_name(h) for h in next(csv.reader([head.split("\n", 1)[0].rstrip("\r")]))]
        fields = next(csv.reader([tail]), [])
        if "coded_at" not in header:
            return False  # never written by the panel (it always writes coded_at): the line is as saved
        if len(fields) < len(header):
            return True
        # every code field is whole once the comma before coded_at is written; a partial stamp is a torn
        # write, an empty one (cut right after that comma, or a hand-made line) still holds the whole decision
        stamp = fields[header.index("coded_at")].strip()
        return bool(stamp) and not _STAMP_RE.fullmatch(stamp)

    def _rewrite(self, text: str, reasons: list[str], warnings: list[str]) -> None:
        backup_dir = self.path.parent / ".workbench-backup"
        backup_dir.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        backup = backup_dir / f"{self.path.name}.{stamp}"
        shutil.copy2(self.path, backup)
        write_text(self.path, text)
        warnings.append(f"{self.path}: rewritten as UTF-8 with the codebook's columns because "
                        f"{'; '.join(reasons)}; the original is kept as {backup}")

    def _decisions(self, df: pd.DataFrame, warnings: list[str]):
        """Latest decision per post from the file's rows (row numbers as in a spreadsheet: header = 1)."""
        rownum = pd.Series(np.arange(2, len(df) + 2), index=df.index)
        post_id = df["post_id"].str.strip()
        coder = df["coder"].str.strip()
        keep = post_id != ""
        if (~keep).any():
            warnings.append(f"{self.path}: {int((~keep).sum())} rows without post_id were ignored "
                            f"(rows {rownum[~keep].tolist()[:5]})")
        others = keep & (coder != self.coder)
        if others.any():
            names = sorted(set(coder[others]))
            raise InputError(
                f"the file holds codes of other coders {names} (rows {rownum[others].tolist()[:5]}) besides "
                f"{self.coder!r}; each coder needs their own file (e.g. coding/{self.coder}.csv)",
                file=self.path, column="coder")
        sci = keep & post_id.str.fullmatch(_SCI_RE)
        if sci.any():
            warnings.append(
                f"{self.path}: post_id in scientific notation (digits lost, e.g. by Excel) in rows "
                f"{rownum[sci].tolist()[:5]} ({int(sci.sum())} rows): those decisions cannot be matched to a post; "
                "store ids as text")
            keep &= ~sci
        values = {}
        for code in self.codebook.codes:  # a handful of codes, each vectorized over rows
            v = df[code.name].str.strip()
            if code.type == "binary":
                norm = v.str.lower().map(_BINARY_TOKENS)
            else:
                norm = v.where(v.isin(list(code.levels)))
            bad = keep & (v != "") & norm.isna()
            if bad.any():
                warnings.append(
                    f"{self.path}: column {code.name!r}: {int(bad.sum())} values are not "
                    f"{'0/1' if code.type == 'binary' else list(code.levels)} (rows {rownum[bad].tolist()[:5]}, "
                    f"e.g. {v[bad].unique().tolist()[:3]}); those posts are shown as not decided for this code")
            values[code.name] = norm.fillna("")
        wide = pd.DataFrame({"post_id": post_id, **values})[keep]
        extra_cols = [c for c in df.columns[2:] if c not in self.names and c != "coded_at"]
        latest = wide.drop_duplicates("post_id", keep="last").set_index("post_id")
        decisions = {pid: {c: v for c, v in row.items() if v != ""}
                     for pid, row in latest.to_dict("index").items()}
        extras = {}
        if extra_cols:
            ext = df.loc[keep, extra_cols].assign(post_id=post_id[keep]).drop_duplicates("post_id", keep="last")
            extras = ext.set_index("post_id").to_dict("index")
        return decisions, extras


class CodingPanel:
    """Code posts by hand, one at a time, blind to their metrics; every decision is saved at once.

    Parameters
    ----------
    posts
        The posts table; needs ``post_id`` and ``text`` (``published_at`` and ``permalink`` are shown when
        present). Only :data:`DISPLAY_COLUMNS` are kept.
    codebook
        A :class:`~workbench.coding.Codebook` or the path of ``codebook.yml``.
    coder
        The coder's name, written in every row. In ``adjudicate`` mode it is ``"adjudicated"`` (the
        default there; any other name is an error).
    path
        The coder's coding file (e.g. ``coding/coder_a.csv``); created on the first decision, resumed when
        it exists (see :class:`CoderFile` for what it accepts and repairs). The panel holds the file's lock
        until :meth:`close`.
    mode
        ``"all"``: every post, oldest first. ``"overlap"``: a seeded random sample of ``overlap_size``
        posts for double coding — the same posts for every coder given the same posts, size and seed
        (:func:`~workbench.coding.sample_overlap`). ``"adjudicate"``: only the posts on which the coders
        in ``other_codes`` disagree; a post counts as done when every code in dispute is decided.
    overlap_size, seed
        Size and seed of the overlap sample.
    other_codes
        Adjudicate mode: the coders' codes in long form (``CODES_SCHEMA``, e.g. ingest's codes table).
    timezone
        Zone in which dates are shown; default UTC (:meth:`from_dataset` uses the dataset card's zone).
    show_link
        Show the link to the post on the platform (default False: its page shows the metrics).
    """

    def __init__(
        self,
        posts: pd.DataFrame,
        codebook: Codebook | str | Path,
        *,
        coder: str | None = None,
        path: str | Path,
        mode: str = "all",
        overlap_size: int | None = None,
        seed: int = 0,
        other_codes: pd.DataFrame | None = None,
        timezone: str = "UTC",
        show_link: bool = False,
    ) -> None:
        self.codebook = codebook if isinstance(codebook, Codebook) else load_codebook(codebook)
        if not self.codebook.codes:
            raise InputError("the codebook defines no codes: nothing to code", file=self.codebook.path)
        if mode not in MODES:
            raise InputError(f"mode {mode!r} is not one of {list(MODES)}")
        if mode == "adjudicate":
            coder = ADJUDICATOR if coder is None else coder
            if coder.strip().lower() != ADJUDICATOR:
                raise InputError(f"adjudicate mode writes the coder {ADJUDICATOR!r}; found coder={coder!r}")
            if other_codes is None:
                raise InputError(
                    "adjudicate mode needs other_codes: the coders' codes (e.g. ingest's codes table)"
                )
        if (coder is None or not str(coder).strip() or any(ch in str(coder) for ch in ',"\n\r\t')
                or _looks_like_formula(str(coder).strip())):
            raise InputError(
                "coder must be a non-empty name without commas, quotes or line breaks, not starting with "
                f"=, +, - or @ (a spreadsheet would run it as a formula); found {coder!r}"
            )
        try:
            pd.Timestamp("2020-01-01", tz="UTC").tz_convert(timezone)
        except Exception:
            raise InputError(f"timezone {timezone!r} is not a time zone name (e.g. America/New_York)") from None
        self.coder = str(coder).strip()
        self.mode = mode
        self.path = Path(path)
        self.timezone = timezone
        self.show_link = bool(show_link)
        self.names = self.codebook.names
        self.warnings: list[str] = []
        self._posts = self._display_posts(posts)
        self.disputed: dict[str, list[str]] = {}
        self.coder_values: dict[str, dict[str, dict[str, str]]] = {}
        if mode == "all":
            queue = self._posts.index.tolist()
        elif mode == "overlap":
            if overlap_size is None:
                raise InputError("overlap mode needs overlap_size (the number of posts every coder codes)")
            chosen = set(sample_overlap(self._posts.reset_index(), size=overlap_size, seed=seed))
            queue = self._posts.index[self._posts.index.isin(list(chosen))].tolist()
        else:
            queue = self._adjudication_queue(other_codes)
        self.queue: list[str] = queue
        self._file = CoderFile(self.path, coder=self.coder, codebook=self.codebook)
        self.warnings.extend(self._file.warnings)
        self.columns = self._file.columns
        self._decisions: dict[str, dict[str, str]] = self._file.decisions
        self._in_queue = set(queue)
        outside = [p for p in self._decisions if p not in self._in_queue]
        if outside:
            self.warnings.append(
                f"{self.path}: {len(outside)} coded posts are not among this panel's {self.n_total} posts "
                f"(kept in the file), e.g. {outside[:3]}"
            )
        self._done = {p for p in self._decisions if p in self._in_queue and self.is_done(p)}
        self.index = self._first_uncoded()
        self.active = self._first_undecided_code()
        self.last_saved: str = ""
        self.others: dict[str, int] = {}
        self._others_read = 0.0
        self._rendering = False
        self._widget: w.Widget | None = None
        self.refresh_others()

    @classmethod
    def from_dataset(
        cls,
        dataset_dir: str | Path,
        *,
        coder: str | None = None,
        run_dir: str | Path | None = None,
        **options,
    ) -> CodingPanel:
        """A panel for a dataset folder: its codebook, its posts, ``coding/<coder>.csv``, its time zone.

        The posts come from the run folder's ``data/posts.parquet`` (``run_dir``, default
        ``reports/<name>``) when it exists, else straight from the exports the card lists. In adjudicate
        mode the coders' codes are read from the card's coding files. Other ``options`` go to the
        constructor (``mode``, ``overlap_size``, ``seed``, ``show_link``, ``path``, ``timezone``).
        """
        from .dataset import load_dataset
        from .ingest import read_files
        from .pipeline import default_run_dir

        ds = load_dataset(dataset_dir)
        cb_path = ds.codebook_path()
        if cb_path is None:
            raise InputError("the dataset card names no codebook (codebook: codebook.yml): nothing to code",
                             file=ds.card_path)
        codebook = load_codebook(cb_path)
        run = Path(run_dir) if run_dir is not None else default_run_dir(ds)
        posts_file = run / "data" / "posts.parquet"
        if posts_file.is_file():
            posts = pd.read_parquet(posts_file, columns=None)
        else:
            posts = read_files(ds.post_files(), root=ds.root).posts
        mode = options.get("mode", "all")
        if mode == "adjudicate":
            coder = ADJUDICATOR if coder is None else coder
        if coder is None:
            raise InputError("from_dataset needs coder= (the coder's name, e.g. coder_a)")
        path = options.pop("path", None) or ds.root / "coding" / f"{str(coder).strip()}.csv"
        if mode == "adjudicate" and options.get("other_codes") is None:
            files = [f for f in ds.code_files() if Path(f).resolve() != Path(path).resolve()]
            options["other_codes"] = read_files(files, root=ds.root,
                                                binary_codes=codebook.binary_codes).codes
        options.setdefault("timezone", ds.timezone)
        return cls(posts, codebook, coder=coder, path=path, **options)

    # --- data ---------------------------------------------------------------------------------------------

    def _display_posts(self, posts: pd.DataFrame) -> pd.DataFrame:
        check_columns(posts, ["post_id", "text"], table="posts")
        keep = [c for c in DISPLAY_COLUMNS if c in posts.columns]
        df = posts[keep].copy()  # metrics are dropped here: the panel cannot show what it does not hold
        df["post_id"] = df["post_id"].astype("string[pyarrow]").str.strip()  # Arrow kernels: fast at 1M posts
        df = df[df["post_id"].notna() & (df["post_id"] != "")]
        df = df.drop_duplicates("post_id", keep="last")
        if "published_at" in df.columns:
            import pyarrow as pa
            import pyarrow.compute as pc

            df["published_at"] = pd.to_datetime(df["published_at"], utc=True, errors="coerce")
            keys = pa.table({"t": pa.array(df["published_at"].array.asi8, mask=df["published_at"].isna().to_numpy()),
                             "id": pa.array(df["post_id"].astype(str).to_numpy())})
            order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("id", "ascending")])  # nulls last
            df = df.iloc[order.to_numpy()]
        df["post_id"] = df["post_id"].astype(object)
        return df.set_index("post_id")

    def _adjudication_queue(self, other_codes: pd.DataFrame) -> list[str]:
        disputed = disagreement_posts(other_codes)
        outside = sorted({c for codes in disputed.values() for c in codes} - set(self.names))
        if outside:
            self.warnings.append(f"disagreements on codes not in the codebook are not shown: {outside}")
        unknown = [p for p in disputed if p not in self._posts.index]
        if unknown:
            self.warnings.append(
                f"{len(unknown)} disputed posts are not in the posts table, e.g. {unknown[:5]}"
            )
        self.disputed = {
            p: [c for c in codes if c in self.names]
            for p, codes in disputed.items()
            if p in self._posts.index and any(c in self.names for c in codes)
        }
        long = other_codes[other_codes["post_id"].astype("string").isin(list(self.disputed))]
        long = long[long["coder"].astype("string").str.lower() != ADJUDICATOR]
        for rec in long[["post_id", "coder", "code", "value"]].astype("string").to_dict("records"):
            self.coder_values.setdefault(rec["post_id"], {}).setdefault(rec["code"], {})[rec["coder"]] = rec[
                "value"
            ]
        return self._posts.index[self._posts.index.isin(list(self.disputed))].tolist()

    def refresh_others(self) -> dict[str, int]:
        """How many of this panel's posts each other coder has decided, from the other ``*.csv`` files beside
        the coder's file (read-only; unreadable files are skipped). Also in the panel's header."""
        from .ingest import read_files

        self._others_read = time.monotonic()
        folder = self.path.parent
        files = [f for f in sorted(folder.glob("*.csv")) if f.name != self.path.name] if folder.is_dir() else []
        counts: dict[str, int] = {}
        for f in files:  # a few coder files
            try:
                codes = read_files([f]).codes
            except Exception:  # another coder's file mid-write or not a coding file: not this panel's concern
                continue
            codes = codes[codes["coder"].astype("string").str.lower() != ADJUDICATOR]
            codes = codes[codes["post_id"].isin(list(self._in_queue))]
            for coder, n in codes.groupby("coder")["post_id"].nunique().items():
                if coder != self.coder:
                    counts[str(coder)] = counts.get(str(coder), 0) + int(n)
        self.others = counts
        return counts

    def _required(self, post_id: str) -> list[str]:
        return self.disputed.get(post_id, []) if self.mode == "adjudicate" else list(self.names)

    def is_done(self, post_id: str) -> bool:
        """Whether every code this post needs (all codes; in adjudicate mode the disputed ones) is decided."""
        decided = self._decisions.get(post_id, {})
        return all(c in decided for c in self._required(post_id))

    def _first_uncoded(self, start: int = 0) -> int:
        for i in range(start, len(self.queue)):  # passes only coded posts, stops at the first uncoded one
            if self.queue[i] not in self._done:
                return i
        return len(self.queue)

    def _first_undecided_code(self) -> int:
        """Index (in the codebook) of the first code the shown post still needs; 0 when all are decided."""
        if self.finished:
            return 0
        pid = self.queue[self.index]
        decided = self._decisions.get(pid, {})
        for name in self._required(pid):
            if name not in decided:
                return self.names.index(name)
        return self.names.index(self._required(pid)[0]) if self._required(pid) else 0

    # --- the logic the widgets call --------------------------------------------------------------------

    @property
    def n_total(self) -> int:
        return len(self.queue)

    @property
    def n_done(self) -> int:
        return len(self._done)

    @property
    def progress(self) -> str:
        """``"112 of 569"``: posts fully coded of the posts to code."""
        return f"{self.n_done} of {self.n_total}"

    @property
    def finished(self) -> bool:
        """True when past the last post (every post was passed; some may have been skipped)."""
        return self.index >= len(self.queue)

    @property
    def post_id(self) -> str | None:
        """The post shown, or None past the end."""
        return None if self.finished else self.queue[self.index]

    @property
    def current(self) -> dict | None:
        """The post shown: post_id, text, published_at, permalink (when known) and its codes so far."""
        if self.finished:
            return None
        pid = self.queue[self.index]
        row = self._posts.loc[pid]
        out = {"post_id": pid, **{c: row[c] for c in DISPLAY_COLUMNS[1:] if c in row.index}}
        out["codes"] = dict(self._decisions.get(pid, {}))
        return out

    def codes_of(self, post_id: str) -> dict[str, str]:
        """This coder's decisions for a post (code → value) so far."""
        return dict(self._decisions.get(post_id, {}))

    def _normalize(self, code: str, value) -> str | None:
        if code not in self.names:
            raise InputError(f"no code {code!r} in the codebook; codes: {list(self.names)}")
        if value is None:
            return None
        spec = self.codebook.code(code)
        text = str(value).strip()
        if spec.type == "binary":
            low = text.lower()
            if low in _YES:
                return "1"
            if low in _NO:
                return "0"
            raise InputError(f"code {code!r} is binary: expected 0/1 (or True/False), found {value!r}")
        if text not in spec.levels:
            raise InputError(f"code {code!r}: {value!r} is not one of its levels {list(spec.levels)}")
        return text

    def set_code(self, code: str, value) -> None:
        """Decide ``code`` for the post shown (None clears it) and append the post's codes to the file."""
        if self.finished:
            raise InputError(f"no post is shown: past the last of {self.n_total} posts; call back()")
        value = self._normalize(code, value)
        pid = self.queue[self.index]
        state = dict(self._decisions.get(pid, {}))
        if state.get(code) == value:
            return  # nothing changed: no new row
        if value is None:
            state.pop(code, None)
        else:
            state[code] = value
        self._file.append(pid, state)  # raises (nothing changes here) when the line is not on disk
        self._decisions[pid] = state
        if self.is_done(pid):
            self._done.add(pid)
        else:
            self._done.discard(pid)
        self.last_saved = f"saved {code} = {value if value is not None else '(cleared)'} for post {pid}"

    def _moved(self) -> None:
        self.last_saved = ""  # a message about the previous post must not stay beside the next one
        self.active = self._first_undecided_code()

    def next(self) -> None:
        """Show the following post (past the last one: the end)."""
        self.index = min(self.index + 1, len(self.queue))
        self._moved()

    def back(self) -> None:
        """Show the previous post."""
        self.index = max(self.index - 1, 0)
        self._moved()

    def skip(self) -> None:
        """Leave this post uncoded for now and show the next uncoded post (wrapping around; else the end)."""
        after = self._first_uncoded(self.index + 1)
        if after == len(self.queue):
            before = self._first_uncoded(0)
            after = before if before < self.index else len(self.queue)
        self.index = after
        self._moved()

    def goto(self, post_id: str) -> None:
        """Show the post ``post_id``."""
        if post_id not in self.queue:
            raise InputError(f"post {post_id!r} is not among the {self.n_total} posts of this panel")
        self.index = self.queue.index(post_id)
        self._moved()

    def key_help(self, code: str) -> str:
        """The keys that decide ``code``, e.g. ``"y / n"`` or ``"1 negative · 2 neutral · 3 positive"``."""
        spec = self.codebook.code(code)
        if spec.type == "binary":
            return "y or 1 = yes · n or 0 = no"
        return " · ".join(f"{i + 1} {lvl}" for i, lvl in enumerate(spec.levels[:9]))

    def handle_key(self, key: str) -> str:
        """Do what ``key`` (a browser ``KeyboardEvent.key``) means; return what was done ("" = nothing).

        See the module docstring for the keys. A choice applies to the highlighted code (``active``) and
        then highlights the next code the post needs.
        """
        if key in NEXT_KEYS:
            self.next()
            return "next"
        if key in BACK_KEYS:
            self.back()
            return "back"
        if key in SKIP_KEYS:
            self.skip()
            return "skip"
        if self.finished:
            return ""
        if key == "ArrowDown":
            self.active = min(self.active + 1, len(self.names) - 1)
            return "down"
        if key == "ArrowUp":
            self.active = max(self.active - 1, 0)
            return "up"
        name = self.names[self.active]
        spec = self.codebook.code(name)
        if key in CLEAR_KEYS:
            self.set_code(name, None)
            return f"clear {name}"
        value = None
        low = key.lower()
        if spec.type == "binary" and low in ("y", "1", "n", "0"):
            value = "1" if low in ("y", "1") else "0"
        elif spec.type == "categorical" and key.isdigit() and 1 <= int(key) <= min(9, len(spec.levels)):
            value = spec.levels[int(key) - 1]
        if value is None:
            return ""
        self.set_code(name, value)
        needed = self._required(self.queue[self.index])
        later = [self.names.index(n) for n in needed if self.names.index(n) > self.active]
        if later:
            self.active = later[0]
        return f"{name} = {value}"

    def decisions(self) -> pd.DataFrame:
        """This coder's latest decisions, one row per post coded: post_id, then one column per code."""
        rows = [{"post_id": p, **v} for p, v in self._decisions.items()]
        return pd.DataFrame(rows, columns=["post_id", *self.names]).astype("string")

    def close(self) -> None:
        """Release the coder file (its lock); the panel saves nothing more."""
        self._file.close(reason="the panel was closed")
        if self._widget is not None:
            self._render()

    def __enter__(self) -> CodingPanel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the widgets (a thin layer over the methods above) ----------------------------------------------

    @property
    def widget(self) -> w.Widget:
        """The panel as one ipywidgets box (built on first use)."""
        if self._widget is None:
            self._build()
            self._render()
        return self._widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _build(self) -> None:
        self._header = w.HTML()
        self._card = w.HTML(layout=w.Layout(min_width="22em", flex="1 1 50%"))
        self._controls: dict[str, w.ValueWidget] = {}
        self._labels: dict[str, w.HTML] = {}
        self._hints: dict[str, w.HTML] = {}
        rows = []
        for code in self.codebook.codes:
            tip = code.definition
            if code.type == "binary":
                control = w.ToggleButtons(
                    options=[("no (n)", "0"), ("yes (y)", "1")],
                    value=None,
                    tooltips=[f"{code.label}: no — {tip}", f"{code.label}: yes — {tip}"],
                    style={"button_width": "80px"},
                )
            elif len(code.levels) <= 6:
                control = w.ToggleButtons(
                    options=[(f"{lvl} ({i + 1})", lvl) for i, lvl in enumerate(code.levels)],
                    value=None,
                    tooltips=[tip] * len(code.levels),
                )
            else:
                control = w.Dropdown(options=[("—", None), *[(v, v) for v in code.levels]], value=None)
            control.observe(
                lambda change, name=code.name: self._on_choice(name, change["new"]), names="value"
            )
            label = w.HTML(tooltip=tip, layout=w.Layout(min_width="10em"))
            hint = w.HTML()
            self._controls[code.name], self._labels[code.name], self._hints[code.name] = control, label, hint
            rows.append(w.VBox([w.HBox([label, control]), hint]))
        self._back = w.Button(description="◀ Back", tooltip="Previous post (key ←)")
        self._skip = w.Button(description="Skip ▷", tooltip="Leave this post for later (key s)")
        self._next = w.Button(description="Next ▶", button_style="primary", tooltip="Next post (Enter or →)")
        for button, action in ((self._back, self.back), (self._skip, self.skip), (self._next, self.next)):
            button.on_click(lambda _b, action=action: self._navigate(action))
        self._status = w.HTML()
        keys = w.HTML(
            "<small>Keys (mouse over the panel): y/n or 1/0 for a yes/no code, 1–9 for a level; the choice "
            "goes to the highlighted code ▶; ↑/↓ another code; Backspace clears; Enter or → next post; "
            "← back; s skip.</small>"
        )
        guide = w.Accordion(children=[w.HTML(self._codebook_html())], titles=("Codebook",),
                            layout=w.Layout(flex="1 1 40%", min_width="18em"))
        guide.selected_index = 0  # open: the definitions belong beside the post; a click folds them
        body = w.HBox([w.VBox([self._card, *rows], layout=w.Layout(flex="1 1 55%")), guide])
        self._widget = w.VBox(
            [self._header, body, w.HBox([self._back, self._skip, self._next]), self._status, keys]
        )
        self._widget.add_class("workbench-coding-panel")
        self._keys = None
        try:
            from ipyevents import Event
        except ImportError:  # pragma: no cover - ipyevents is a dependency; buttons still work without it
            self.warnings.append("ipyevents is not installed: no keyboard shortcuts (pip install ipyevents)")
        else:
            self._keys = Event(source=self._widget, watched_events=["keydown"], prevent_default_action=True)
            self._keys.on_dom_event(self._on_key)

    def _codebook_html(self) -> str:
        parts = []
        if self.codebook.title:
            parts.append(f"<b>{html.escape(self.codebook.title)}</b>")
        for code in self.codebook.codes:
            values = "0 = no, 1 = yes" if code.type == "binary" else ", ".join(code.levels)
            items = [f"<h4 style='margin:.6em 0 .2em'>{html.escape(code.label)} "
                     f"<small>({html.escape(code.name)}: {html.escape(values)})</small></h4>",
                     f"<div>{html.escape(code.definition)}</div>"]
            for title, texts in (("Include", code.include), ("Exclude", code.exclude), ("Examples", code.examples)):
                if texts:
                    items.append(f"<div><i>{title}:</i><ul style='margin:0'>"
                                 + "".join(f"<li>{html.escape(t)}</li>" for t in texts) + "</ul></div>")
            parts.append("".join(items))
        return "<div style='font-size:90%;max-height:32em;overflow-y:auto'>" + "".join(parts) + "</div>"

    def _on_key(self, event: dict) -> None:
        key = str(event.get("key", ""))
        try:
            done = self.handle_key(key)
        except (InputError, OSError) as exc:  # shown, not raised: a callback's traceback would be lost
            self._status.value = f"<span style='color:#b00'>not saved: {html.escape(str(exc))}</span>"
            return
        if done:
            self._render()

    def _on_choice(self, code: str, value) -> None:
        if self._rendering:
            return
        try:
            self.set_code(code, value)
        except (InputError, OSError) as exc:  # shown, not raised: a callback's traceback would be lost
            self._status.value = f"<span style='color:#b00'>not saved: {html.escape(str(exc))}</span>"
            return
        self._render_status()

    def _navigate(self, action) -> None:
        action()
        self._render()

    def _render_status(self) -> None:
        where = "end" if self.finished else f"post {self.index + 1} of {self.n_total}"
        if time.monotonic() - self._others_read > 30:
            self.refresh_others()
        parts = [f"<b>{html.escape(self.coder)}</b> · {self.mode} · coded {self.progress} · showing {where}"]
        left = self.n_total - self.n_done
        if self.mode == "overlap":
            parts.append(f"{left} overlap posts left for you")
        if self.others:
            parts.append("others: " + ", ".join(f"{html.escape(c)} {n} of {self.n_total}"
                                                 for c, n in sorted(self.others.items())))
        if self._file.closed:
            parts.append(f"<span style='color:#b00'>not saving: {html.escape(self._file.closed_reason)}</span>")
        self._header.value = " · ".join(parts)
        self._status.value = html.escape(self.last_saved)
        for i, name in enumerate(self.names):
            spec = self.codebook.code(name)
            mark = "▶ " if (i == self.active and not self.finished) else ""
            self._labels[name].value = (f"<b>{mark}{i + 1}. {html.escape(spec.label)}</b>"
                                        f"<br><small>{html.escape(self.key_help(name))}</small>")

    def _render(self) -> None:
        self._rendering = True
        try:
            post = self.current
            if post is None:
                left = self.n_total - self.n_done
                self._card.value = (
                    "<p><b>End of the posts.</b> "
                    + (f"{left} posts are not fully coded yet; use Back or Skip." if left else "All coded.")
                    + "</p>"
                )
            else:
                self._card.value = self._card_html(post)
            for name, control in self._controls.items():
                control.disabled = post is None or self._file.closed
                control.value = None if post is None else post["codes"].get(name)
                hint = ""
                if post is not None and name in self.coder_values.get(post["post_id"], {}):
                    given = self.coder_values[post["post_id"]][name]
                    hint = "coders: " + ", ".join(
                        f"{html.escape(c)} = {html.escape(v)}" for c, v in given.items()
                    )
                self._hints[name].value = f"<small>{hint}</small>" if hint else ""
            self._next.disabled = post is None
            self._render_status()
        finally:
            self._rendering = False

    def _card_html(self, post: dict) -> str:
        parts = [f"<div><small>post {html.escape(post['post_id'])}</small></div>"]
        when = post.get("published_at")
        if when is not None and not pd.isna(when):
            local = pd.Timestamp(when).tz_convert(self.timezone)
            parts.append(
                f"<div><small>{local.strftime('%Y-%m-%d %H:%M')} ({html.escape(self.timezone)})</small></div>"
            )
        text = post.get("text")
        text = "" if text is None or pd.isna(text) else str(text)
        parts.append(
            "<div class='workbench-post-text' style='white-space:pre-wrap;border:1px solid #ccc;padding:8px;"
            f"max-width:40em'>{html.escape(text)}</div>"
        )
        urls = re.findall(r"https?://[^\s<>\"']+", text)
        if urls:
            parts.append("<div><small>Links in the text (targets shown, not opened): "
                         + ", ".join(f"<code>{html.escape(u)}</code>" for u in urls) + "</small></div>")
        link = post.get("permalink")
        if self.show_link and isinstance(link, str) and link.startswith(("https://", "http://")):
            href = html.escape(link, quote=True)
            parts.append(
                f"<div><a href='{href}' target='_blank' rel='noopener noreferrer'>open the post</a> "
                "<small>— the platform's page shows its metrics (views, likes): looking at them breaks blind "
                "coding</small></div>"
            )
        return "".join(parts)

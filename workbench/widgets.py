"""Interactive panels for analysts (ipywidgets) — never needed by batch runs.

:class:`CodingPanel` shows one post at a time for manual coding with a codebook. All its logic lives in
plain methods (``set_code``, ``next``, ``back``, ``skip``, ``progress``) that tests drive without a browser;
the widgets only call them.

**Blind coding.** The panel keeps only the post's id, text, date and link: metrics (impressions,
engagements, ...) are dropped when the panel is built, so no widget can show them.

**Every decision is saved at once.** Each decision appends one line — ``post_id, coder, <one column per
code>, coded_at`` — holding the post's full current codes (empty = not decided yet) to the coder's CSV
(DESIGN.md §3; ingest skips the ``coded_at`` column). The line is written with a single ``os.write`` on a
file descriptor opened with ``O_APPEND`` and then ``fsync``-ed, so closing the browser or killing the kernel
loses no decision that was shown as saved. Why append instead of temp file + rename: the file is a log of
decisions that grows by one short line per click; rewriting it each time would cost O(file) per click and
O(n²) over a session, and appending keeps the history (who decided what, when). A crash can at worst leave
the last line torn (no final newline); the panel cuts such a tail off when it reopens the file (with a
warning), and ingest would quarantine it. One panel per coder file at a time.

**The latest row wins.** A re-decision appends a new row; when the file is read back (by the panel on
reopening, and by ingest: "the later row wins" for the same post and coder) the last row of a post is its
final state — file order, not the ``coded_at`` clock. Reopening resumes at the first post not yet coded.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import os
from pathlib import Path

import ipywidgets as w
import pandas as pd

from .coding import ADJUDICATOR, Codebook, disagreement_posts, load_codebook, sample_overlap
from .errors import InputError
from .io import write_text
from .schema import check_columns

#: The only columns of the posts table a coder sees.
DISPLAY_COLUMNS = ("post_id", "published_at", "text", "permalink")
MODES = ("all", "overlap", "adjudicate")
_YES = {"1", "1.0", "true", "yes", "y"}
_NO = {"0", "0.0", "false", "no", "n"}


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


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


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
        it exists.
    mode
        ``"all"``: every post, oldest first. ``"overlap"``: a seeded random sample of ``overlap_size``
        posts for double coding — the same posts for every coder given the same posts, size and seed
        (:func:`~workbench.coding.sample_overlap`). ``"adjudicate"``: only the posts on which the coders
        in ``other_codes`` disagree; a post counts as done when every code in dispute is decided.
    overlap_size, seed
        Size and seed of the overlap sample.
    other_codes
        Adjudicate mode: the coders' codes in long form (``CODES_SCHEMA``, e.g. ingest's ``codes``).
    timezone
        Zone in which dates are shown.
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
        if coder is None or not str(coder).strip() or "," in str(coder):
            raise InputError(f"coder must be a non-empty name without commas; found {coder!r}")
        self.coder = str(coder).strip()
        self.mode = mode
        self.path = Path(path)
        self.timezone = timezone
        self.names = self.codebook.names
        self.columns = ["post_id", "coder", *self.names, "coded_at"]
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
        self._decisions: dict[str, dict[str, str]] = self._read_file()
        self._in_queue = set(queue)
        self._done = {p for p in self._decisions if p in self._in_queue and self.is_done(p)}
        self.index = self._first_uncoded()
        self.last_saved: str = ""
        self._rendering = False
        self._widget: w.Widget | None = None

    # --- data ---------------------------------------------------------------------------------------------

    def _display_posts(self, posts: pd.DataFrame) -> pd.DataFrame:
        check_columns(posts, ["post_id", "text"], table="posts")
        keep = [c for c in DISPLAY_COLUMNS if c in posts.columns]
        df = posts[keep].copy()  # metrics are dropped here: the panel cannot show what it does not hold
        df["post_id"] = df["post_id"].astype("string").str.strip()
        df = df[df["post_id"].notna() & (df["post_id"] != "")]
        df = df.drop_duplicates("post_id", keep="last")
        if "published_at" in df.columns:
            df["published_at"] = pd.to_datetime(df["published_at"], utc=True, errors="coerce")
            df = df.sort_values(["published_at", "post_id"], kind="stable", na_position="last")
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

    def _read_file(self) -> dict[str, dict[str, str]]:
        """The coder's decisions so far (latest row per post), repairing a torn last line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return {}
        raw = self.path.read_bytes()
        if not raw.endswith(b"\n"):
            cut = raw.rfind(b"\n") + 1
            os.truncate(self.path, cut)
            self.warnings.append(
                f"{self.path}: the last line was incomplete (interrupted write) and was removed: "
                f"{raw[cut:][:80]!r}"
            )
            raw = raw[:cut]
            if not raw:
                return {}
        header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig").split("\n", 1)[0])))
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if header != self.columns:
            df = self._migrate(header, df)
        coders = set(df["coder"].str.strip()) - {self.coder}
        if coders:
            raise InputError(
                f"the file holds codes of other coders {sorted(coders)}; each coder needs their own file",
                file=self.path,
                column="coder",
            )
        latest = df.drop_duplicates("post_id", keep="last").set_index("post_id")[list(self.names)]
        return {
            pid: {c: v for c, v in row.items() if v != ""} for pid, row in latest.to_dict("index").items()
        }

    def _migrate(self, header: list[str], df: pd.DataFrame) -> pd.DataFrame:
        """Rewrite a file written with fewer codes under the codebook's columns (temp file + rename)."""
        known = header[:2] == ["post_id", "coder"] and header[-1:] == ["coded_at"]
        codes = header[2:-1] if known else header
        if not known or not set(codes) <= set(self.names):
            raise InputError(
                f"the columns {header} do not fit the codebook, which expects {self.columns}. Rename the "
                "codes in the codebook back, or start a new coding file",
                file=self.path,
            )
        df = df.reindex(columns=self.columns, fill_value="")
        buf = io.StringIO()
        df.to_csv(buf, index=False, lineterminator="\n")
        write_text(self.path, buf.getvalue())
        self.warnings.append(
            f"{self.path}: new codebook codes {sorted(set(self.names) - set(codes))} added as columns"
        )
        return df

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
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        line = _csv_line([pid, self.coder, *[state.get(c, "") for c in self.names], stamp])
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        data = (_csv_line(self.columns) if new_file else "") + line
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _append(self.path, data.encode("utf-8"))
        self._decisions[pid] = state  # only after the line is on disk
        if self.is_done(pid):
            self._done.add(pid)
        else:
            self._done.discard(pid)
        self.last_saved = f"saved {code} = {value if value is not None else '(cleared)'} for post {pid}"

    def next(self) -> None:
        """Show the following post (past the last one: the end)."""
        self.index = min(self.index + 1, len(self.queue))

    def back(self) -> None:
        """Show the previous post."""
        self.index = max(self.index - 1, 0)

    def skip(self) -> None:
        """Leave this post uncoded for now and show the next uncoded post (wrapping around; else the end)."""
        after = self._first_uncoded(self.index + 1)
        if after == len(self.queue):
            before = self._first_uncoded(0)
            after = before if before < self.index else len(self.queue)
        self.index = after

    def goto(self, post_id: str) -> None:
        """Show the post ``post_id``."""
        if post_id not in self.queue:
            raise InputError(f"post {post_id!r} is not among the {self.n_total} posts of this panel")
        self.index = self.queue.index(post_id)

    def decisions(self) -> pd.DataFrame:
        """This coder's latest decisions, one row per post coded: post_id, then one column per code."""
        rows = [{"post_id": p, **v} for p, v in self._decisions.items()]
        return pd.DataFrame(rows, columns=["post_id", *self.names]).astype("string")

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
        self._card = w.HTML()
        self._controls: dict[str, w.ValueWidget] = {}
        self._hints: dict[str, w.HTML] = {}
        rows = []
        for i, code in enumerate(self.codebook.codes):
            tip = code.definition
            if code.type == "binary":
                control = w.ToggleButtons(
                    options=[("no (0)", "0"), ("yes (1)", "1")],
                    value=None,
                    tooltips=[f"{code.label}: no — {tip}", f"{code.label}: yes — {tip}"],
                    style={"button_width": "80px"},
                )
            elif len(code.levels) <= 6:
                control = w.ToggleButtons(
                    options=list(code.levels), value=None, tooltips=[tip] * len(code.levels)
                )
            else:
                control = w.Dropdown(options=[("—", None), *[(v, v) for v in code.levels]], value=None)
            control.observe(
                lambda change, name=code.name: self._on_choice(name, change["new"]), names="value"
            )
            label = w.HTML(f"<b>{i + 1}. {html.escape(code.label)}</b>", tooltip=tip)
            hint = w.HTML()
            self._controls[code.name], self._hints[code.name] = control, hint
            rows.append(w.VBox([w.HBox([label, control]), hint]))
        self._back = w.Button(description="◀ Back", tooltip="Previous post (Tab to focus, Enter to press)")
        self._skip = w.Button(
            description="Skip ▷", tooltip="Leave this post for later and go to the next uncoded"
        )
        self._next = w.Button(
            description="Next ▶", button_style="primary", tooltip="Next post (Tab to focus, Enter to press)"
        )
        for button, action in ((self._back, self.back), (self._skip, self.skip), (self._next, self.next)):
            button.on_click(lambda _b, action=action: self._navigate(action))
        self._status = w.HTML()
        self._widget = w.VBox(
            [self._header, self._card, *rows, w.HBox([self._back, self._skip, self._next]), self._status]
        )

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
        self._header.value = (
            f"<b>{html.escape(self.coder)}</b> · {self.mode} · coded {self.progress} · showing {where}"
        )
        self._status.value = html.escape(self.last_saved)

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
                control.disabled = post is None
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
        parts = []
        when = post.get("published_at")
        if when is not None and not pd.isna(when):
            local = pd.Timestamp(when).tz_convert(self.timezone)
            parts.append(
                f"<div><small>{local.strftime('%Y-%m-%d %H:%M')} ({html.escape(self.timezone)})</small></div>"
            )
        text = post.get("text")
        text = "" if text is None or pd.isna(text) else str(text)
        parts.append(
            "<div style='white-space:pre-wrap;border:1px solid #ccc;padding:8px;max-width:40em'>"
            f"{html.escape(text)}</div>"
        )
        link = post.get("permalink")
        if isinstance(link, str) and link.startswith(("https://", "http://")):
            href = html.escape(link, quote=True)
            parts.append(f"<div><a href='{href}' target='_blank' rel='noopener'>open the post</a></div>")
        return "".join(parts)

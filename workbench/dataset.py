"""The dataset card (``dataset.yml``) → validated, frozen settings (DESIGN.md §3)."""

from __future__ import annotations

import codecs
import datetime as dt
import glob
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .errors import DatasetCardError

# names.py imports nothing: loading a card must not load pandas (schema) or statsmodels (growth), which a
# runner that only reads the card (a no-op re-run) or has not started its kernel yet must not pay
from .names import AUTOMATIC_FEATURES, PLATFORMS, POST_DERIVABLE, POST_TYPES

CARD_NAME = "dataset.yml"

TOP_KEYS = (
    "name", "title", "timezone", "posts", "account", "codes", "codebook",
    "interventions", "analysis", "goals", "publications", "attention", "campaigns", "claims",
)
ANALYSIS_KEYS = (
    "outcomes", "predictors", "controls",
    "growth_metric", "monthly_metrics", "equivalence_margin", "hac_maxlags",
    "population", "reference_levels",
)
#: analysis.population: which posts the post-level models cover (workbench.models.fit_post_models).
POPULATIONS = ("original", "all")
GOAL_KEYS = ("metric", "target", "by", "label")
INTERVENTION_KEYS = ("date", "label")
ACCOUNT_KEYS = ("path", "columns", "platform", "month_of")
#: which month a row of an account sheet describes: its own date's month, or the previous month (sheets like
#: rOpenSci's, whose `month` column says a row dated 2020-02-01 holds January's totals)
MONTH_OF_VALUES = ("same", "previous")
PUBLICATION_KEYS = ("path", "columns")
#: files of the publication level that live at fixed places in the dataset folder (written by
#: ``workbench fetch resolve-links`` and by the user confirming the match review), read when present.
LINK_CACHE = "links/resolved_links.csv"
CONFIRMED_MATCHES = "links/confirmed_matches.csv"
#: a claim in the card's ``claims:`` list (same fields as the package's claims file, workbench/data/claims.yml)
CLAIM_KEYS = ("id", "claim", "source", "population", "metric", "effect", "outcome", "term", "model", "statistic",
              "window", "currency", "note")
CLAIM_REQUIRED = ("id", "claim", "source", "metric", "effect")
#: what a claim's ``effect`` is about (workbench.claims evaluates each kind)
CLAIM_METRICS = ("regression", "growth_ratio", "hashtag_any", "timing_window", "ad_benchmark")

DEFAULT_OUTCOMES = ("impressions", "engagements")
DEFAULT_PREDICTORS = ("has_poll", "has_graphic", "has_url", "has_emoji", "n_hashtags", "n_mentions")
DEFAULT_CONTROLS = ("followers_at_post", "year")


@dataclass(frozen=True)
class AccountSource:
    """One account-series source: a path or glob, and an optional map raw column → canonical column."""

    path: str
    columns: tuple[tuple[str, str], ...] = ()
    #: the platform of series whose file does not say it (a Business Suite "Views.csv"); None: from the file
    platform: str | None = None
    #: "same" (default) or "previous": the month whose totals a row holds (see MONTH_OF_VALUES)
    month_of: str = "same"

    @property
    def column_map(self) -> dict[str, str]:
        return dict(self.columns)


@dataclass(frozen=True)
class Intervention:
    date: dt.date
    label: str


@dataclass(frozen=True)
class Goal:
    metric: str
    target: float
    by: dt.date
    label: str = ""


@dataclass(frozen=True)
class Analysis:
    outcomes: tuple[str, ...] = DEFAULT_OUTCOMES
    predictors: tuple[str, ...] = DEFAULT_PREDICTORS
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    growth_metric: str = "followers"
    monthly_metrics: tuple[str, ...] = ("impressions", "engagements", "posts")
    #: equivalence margin for slope ratios (TOST): lower and upper ratio bounds.
    equivalence_margin: tuple[float, float] = (0.8, 1.25)
    #: Newey–West lag; None = floor(4 (n/100)^(2/9)) (Newey & West 1994 rule of thumb).
    hac_maxlags: int | None = None
    #: posts the models cover: "original", "all" (post type controlled) or a tuple of post types; None (not in
    #: the card): original posts, or all posts when is_reply/post_type is a predictor (models.DEFAULT_POPULATION).
    population: str | tuple[str, ...] | None = None
    #: categorical column → reference level (e.g. media_type: photo); pairs, so the card stays hashable.
    reference_levels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Dataset:
    """A validated dataset card. Paths in it are relative to ``root``."""

    root: Path
    name: str
    title: str
    timezone: str = "UTC"
    posts: tuple[str, ...] = ()
    account: tuple[AccountSource, ...] = ()
    codes: tuple[str, ...] = ()
    codebook: str | None = None
    interventions: tuple[Intervention, ...] = ()
    analysis: Analysis = field(default_factory=Analysis)
    goals: tuple[Goal, ...] = ()
    publications: tuple[AccountSource, ...] = ()
    attention: tuple[str, ...] = ()
    #: globs of paid-campaign exports (Meta Ads Manager, LinkedIn Campaign Manager, X Ads)
    campaigns: tuple[str, ...] = ()
    #: the card's own published claims, each a tuple of (key, value) pairs (see CLAIM_KEYS)
    claims: tuple[tuple[tuple[str, Any], ...], ...] = ()

    @property
    def card_path(self) -> Path:
        return self.root / CARD_NAME

    def _expand(self, patterns: tuple[str, ...], what: str, *, allow_empty: bool = False) -> list[Path]:
        files: list[Path] = []
        for pattern in patterns:
            files.extend(m for m in resolve_card_glob(self.root, pattern, what, card=self.card_path,
                                                      allow_empty=allow_empty) if m not in files)
        return files

    def post_files(self) -> list[Path]:
        """Every file the ``posts`` globs match, sorted, without repeats."""
        return self._expand(self.posts, "posts")

    def account_files(self) -> list[tuple[Path, dict[str, str]]]:
        """Every account file with its column map."""
        out: list[tuple[Path, dict[str, str]]] = []
        for src in self.account:
            for f in self._expand((src.path,), "account"):
                out.append((f, src.column_map))
        return out

    def campaign_files(self) -> list[Path]:
        """Every file the ``campaigns`` globs match (none when the card has no ``campaigns:``)."""
        return self._expand(self.campaigns, "campaigns") if self.campaigns else []

    def code_files(self) -> list[Path]:
        """Every manual coding file; none yet is normal (coding has not started), so an empty match is no error."""
        return self._expand(self.codes, "codes", allow_empty=True) if self.codes else []

    def publication_files(self) -> list[tuple[Path, dict[str, str]]]:
        """Every publication list the ``publications`` globs match, with its column map."""
        out: list[tuple[Path, dict[str, str]]] = []
        for src in self.publications:
            for f in self._expand((src.path,), "publications"):
                if all(f != p for p, _ in out):
                    out.append((f, src.column_map))
        return out

    def attention_files(self) -> list[Path]:
        """Every attention file (OpenAlex pages, Altmetric responses, Altmetric Explorer CSV) the globs match."""
        return self._expand(self.attention, "attention") if self.attention else []

    def link_files(self) -> dict[str, Path | None]:
        """The resolved-link cache and the confirmed title matches, where the dataset folder has them."""
        return {key: (p if p.is_file() else None)
                for key, p in (("cache", self.root / LINK_CACHE), ("confirmed", self.root / CONFIRMED_MATCHES))}

    def publication_inputs(self) -> list[Path]:
        """Every file the publications stage reads: publication lists, attention files, link files (the card's
        parts are hashed by the pipeline, see ``pipeline.card_parts``)."""
        if not self.publications:
            return []
        files = [*(p for p, _ in self.publication_files()), *self.attention_files(),
                 *(p for p in self.link_files().values() if p is not None)]
        return list(dict.fromkeys(files))

    def codebook_path(self) -> Path | None:
        """The codebook file, or None when the card names none.

        Checked: inside the dataset folder, and a regular file whose YAML passes the card loader's limits. A
        codebook that does not exist (yet) is returned as a path: the report says it is not available.
        """
        if self.codebook is None:
            return None
        path = resolve_card_path(self.root, self.codebook, "codebook", card=self.card_path, must_exist=False)
        if path.exists():
            check_yaml_file(path, "codebook")
        return path

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the dataset folder (as written in logs)."""
        # lexically first (a raw/ folder may be a link to where the exports really live), then resolved
        for p, root in ((Path(os.path.abspath(path)), Path(os.path.abspath(self.root))),
                        (Path(path).resolve(), self.root.resolve())):
            try:
                return p.relative_to(root).as_posix()
            except ValueError:
                continue
        return str(path)


# --------------------------------------------------------------------------------------------------------------
# paths in the card: every one must stay inside the dataset folder


def _visible(text: str) -> str:
    """``text`` with control characters (ANSI escapes, NUL, …) shown as ``\\x1b`` etc., for messages."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def check_card_pattern(pattern: Any, what: str, *, card: Path) -> str:
    """Return ``pattern`` when it is a relative path or glob that cannot leave the dataset folder.

    Refused: not a string, empty, longer than 1,000 characters, control characters, an absolute path
    (``/x``, ``C:\\x``, ``\\\\server\\x``), a home path (``~/x``) and any ``..`` component.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise _fail(f"{what} path must be a non-empty text such as 'raw/*.csv', found {pattern!r}", card)
    shown = _visible(pattern[:200])
    if len(pattern) > 1000:
        raise _fail(f"{what} path {shown!r}… is longer than 1,000 characters", card)
    if any(not c.isprintable() for c in pattern):
        raise _fail(f"{what} path {shown!r} holds control characters; expected a path inside the dataset folder", card)
    parts_posix = PurePosixPath(pattern).parts
    parts = [p for part in parts_posix for p in part.split("\\")]
    if (PurePosixPath(pattern).is_absolute() or PureWindowsPath(pattern).is_absolute() or pattern.startswith("\\")
            or PureWindowsPath(pattern).drive or pattern.startswith("~")):
        raise _fail(f"{what} path {shown!r} is absolute; paths in {CARD_NAME} are relative to the dataset folder "
                    "(e.g. raw/*.csv). Put the exports in the dataset folder, or link their folder into it "
                    "(ln -s /where/they/are raw).", card)
    if ".." in parts:
        raise _fail(f"{what} path {shown!r} uses '..'; paths in {CARD_NAME} must stay inside the dataset folder "
                    "(e.g. raw/*.csv)", card)
    return pattern


def _linked_roots(root: Path) -> dict[Path, Path]:
    """Folder links placed directly in the dataset folder (``raw -> /data/exports``): link path → its target.

    Reading exports in place through a linked folder is the documented way to avoid copying raw data; a link
    to a filesystem root or to a folder that contains the dataset folder would open everything, so it is not one.
    """
    out: dict[Path, Path] = {}
    try:
        entries = list(os.scandir(root))
    except OSError:
        return out
    real_root = root.resolve()
    for e in entries:
        if not e.is_symlink():
            continue
        try:
            target = Path(e.path).resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not target.is_dir() or target == Path(target.anchor) or real_root.is_relative_to(target):
            continue
        out[Path(os.path.abspath(e.path))] = target
    return out


def _inside(root: Path, path: Path, linked: dict[Path, Path]) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside the dataset folder or inside a linked exports folder
    reached through that link."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link or a link loop
        return False
    if real.is_relative_to(root.resolve()):
        return True
    lexical = Path(os.path.abspath(path))
    return any(lexical.is_relative_to(link) and real.is_relative_to(target) for link, target in linked.items())


def resolve_card_glob(root: Path, pattern: Any, what: str, *, card: Path | None = None,
                      allow_empty: bool = False) -> list[Path]:
    """The regular files a card's path or glob matches, sorted; every one checked to lie inside the dataset folder.

    The one function every card key naming files goes through (``posts``, ``account``, ``codes``, ``codebook``
    and keys added later). ``**`` matches folders recursively, inside the dataset folder only. Symlinks are
    resolved: a match that leads outside the dataset folder is refused (the exception is a linked exports
    folder placed directly in the dataset folder, see :func:`_linked_roots`), and nothing of a refused file is
    read or shown. Raises DatasetCardError (exit 2) naming the key and the pattern.
    """
    root = Path(root)
    card = card or root / CARD_NAME
    pattern = check_card_pattern(pattern, what, card=card)
    linked = _linked_roots(root)
    matches: list[Path] = []
    for m in sorted(Path(p) for p in glob.glob(glob.escape(str(root)) + os.sep + pattern, recursive=True)):
        if not _inside(root, m, linked):
            raise _fail(f"{what} path {_visible(pattern)!r} matches {_visible(_rel(root, m))!r}, which leads outside "
                        "the dataset folder (a link?). Copy the file into the dataset folder, or link the whole "
                        "exports folder into it (ln -s /where/they/are raw).", card)
        try:
            mode = m.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            matches.append(m)
        elif not stat.S_ISDIR(mode):  # a FIFO would block the reader, a device never ends: named, never opened
            raise _fail(f"{what} path {_visible(pattern)!r} matches {_visible(_rel(root, m))!r}, which is not a "
                        "regular file (a pipe or a device?); expected export files", card)
    if not matches and not allow_empty:
        raise _fail(f"{what} pattern {_visible(pattern)!r} matches no file under {root}", card)
    return matches


def resolve_card_path(root: Path, path: Any, what: str, *, card: Path | None = None,
                      must_exist: bool = True) -> Path:
    """One file named in the card (no glob): inside the dataset folder and a regular file, else DatasetCardError.

    ``must_exist=False``: a path that does not exist is returned unchecked beyond its text (it cannot lead
    anywhere; a dangling link is still refused).
    """
    root = Path(root)
    card = card or root / CARD_NAME
    path = check_card_pattern(path, what, card=card)
    full = root / path
    shown = _visible(path)
    if not full.exists():
        if not must_exist and not full.is_symlink():
            return full
        raise _fail(f"{what} {shown!r} does not exist in {root}" + (" (a link to nowhere)" if full.is_symlink()
                                                                      else ""), card)
    if not _inside(root, full, _linked_roots(root)):
        raise _fail(f"{what} {shown!r} leads outside the dataset folder (a link?). Copy the file into the "
                    "dataset folder.", card)
    if full.is_dir():
        raise _fail(f"{what} {shown!r} is a folder; expected a file (e.g. codebook.yml)", card)
    if not stat.S_ISREG(full.stat().st_mode):
        raise _fail(f"{what} {shown!r} is not a regular file (a pipe or a device?); expected a file", card)
    return full


def _rel(root: Path, path: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.name


# --------------------------------------------------------------------------------------------------------------
# validation


def _fail(msg: str, card: Path) -> DatasetCardError:
    return DatasetCardError(msg, file=card)


def _check_keys(obj: dict, allowed: tuple[str, ...], where: str, card: Path) -> None:
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        raise _fail(f"unknown key {_visible(unknown[0])!r} in {where}. Allowed keys: {', '.join(allowed)}", card)


def _show(value: Any) -> str:
    """A value as a message shows it: short, control characters visible."""
    text = _visible(repr(value))
    return text if len(text) <= 120 else text[:117] + "…"


def _text(value: Any, key: str, card: Path, *, numbers: bool = True) -> str:
    """A card value that must be a text (numbers allowed where a name like ``2023`` makes sense)."""
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise _fail(f"{key} must be a text, found {type(value).__name__} {_show(value)}", card)


def _str_list(value: Any, key: str, card: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{key!r} must be a string or a list of strings, found {_show(value)}", card)
    return tuple(value)


def _map_list(value: Any, key: str, example: str, card: Path) -> list:
    """A card value that must be a list of maps (a single map is taken as a list of one)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise _fail(f"{key!r} must be a list of maps like {example}, found {type(value).__name__} {_show(value)}",
                    card)
    return value


def _date(value: Any, key: str, card: Path) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            try:
                return dt.datetime.fromisoformat(value.strip()).date()
            except ValueError:
                pass
    raise _fail(f"{key} must be a date like 2022-01-31, found {_show(value)}", card)


def _number(value: Any, key: str, card: Path) -> float:
    """A finite number (``.nan``, ``.inf`` and yes/no refused)."""
    if isinstance(value, bool):
        raise _fail(f"{key} must be a number, found {_show(value)}", card)
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _fail(f"{key} must be a number, found {_show(value)}", card) from None
    if not math.isfinite(x):
        raise _fail(f"{key} must be a finite number, found {_show(value)}", card)
    return x


#: Longest time-zone name we look up (the longest IANA name is 32 characters).
MAX_TIMEZONE_CHARS = 64


def _timezone(value: Any, card: Path) -> str:
    tz = _text(value, "timezone", card, numbers=False)
    hint = "is not an IANA zone name (e.g. America/New_York, Europe/London)"
    if len(tz) > MAX_TIMEZONE_CHARS or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", tz):
        raise _fail(f"timezone {_show(tz)} {hint}", card)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _fail(f"timezone {tz!r} {hint}", card) from None
    return tz


def _source_entries(raw: Any, key: str, allowed: tuple[str, ...], card: Path, *, noun: str,
                   columns_hint: str = "") -> list[tuple[str, tuple[tuple[str, str], ...], dict]]:
    """A card list of file sources (``account``, ``publications``): each a path/glob, or a ``{path, columns, …}``
    map → ``(checked pattern, column-map pairs, the map's other keys)``; a single entry is taken as a list of one."""
    raw = raw or []
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list):
        raise _fail(f"'{key}' must be a list of {noun}s or {{path, columns}} maps, found {_show(raw)}", card)
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append((check_card_pattern(item, key, card=card), (), {}))
        elif isinstance(item, dict):
            _check_keys(item, allowed, f"a{'n' if key[0] in 'aeiou' else ''} {key} entry", card)
            if "path" not in item:
                raise _fail(f"{key} entry {_show(item)} has no 'path'", card)
            cols = item.get("columns") or {}
            if not isinstance(cols, dict):
                raise _fail(f"{key} columns must map raw name → canonical name{columns_hint}, found {_show(cols)}",
                            card)
            pairs = tuple((_text(k, f"{key} column (raw name)", card), _text(v, f"{key} column {k!r}", card))
                          for k, v in cols.items())
            out.append((check_card_pattern(item["path"], key, card=card), pairs, item))
        else:
            raise _fail(f"{key} entry must be a {noun} or a {{path, columns}} map, found {_show(item)}", card)
    return out


def parse_card(data: Any, root: Path, card: Path | None = None) -> Dataset:
    """Validate a parsed card (a dict) and return the frozen settings."""
    card = card or root / CARD_NAME
    if not isinstance(data, dict):
        raise _fail(f"the card must be a mapping of keys to values, found {type(data).__name__}", card)
    _check_keys(data, TOP_KEYS, "the card", card)
    for req in ("name", "posts"):
        if req not in data:
            raise _fail(f"required key {req!r} is missing. Keys found: {sorted(map(str, data))}", card)
    name = _text(data["name"], "name", card)
    if not re.fullmatch(r"[a-z0-9_-]{1,100}", name):
        raise _fail(f"name must use only a-z, 0-9, '_' and '-' (at most 100), found {_show(name)}", card)
    tz = _timezone(data.get("timezone", "UTC"), card)

    posts = _str_list(data.get("posts"), "posts", card)
    if not posts:
        raise _fail("'posts' must name at least one export file or glob (e.g. raw/*.csv)", card)
    for p in posts:
        check_card_pattern(p, "posts", card=card)
    codes = _str_list(data.get("codes"), "codes", card)
    for p in codes:
        check_card_pattern(p, "codes", card=card)
    codebook = None if data.get("codebook") is None else check_card_pattern(data["codebook"], "codebook", card=card)

    account: list[AccountSource] = []
    for path, pairs, item in _source_entries(data.get("account"), "account", ACCOUNT_KEYS, card, noun="path"):
        plat = item.get("platform")
        if plat is not None and str(plat).lower() not in PLATFORMS:
            raise _fail(f"account platform must be one of {', '.join(PLATFORMS)}, found {_show(plat)}", card)
        month_of = str(item.get("month_of", "same"))
        if month_of not in MONTH_OF_VALUES:
            raise _fail(f"account month_of must be one of {', '.join(MONTH_OF_VALUES)}, found {_show(month_of)}",
                        card)
        account.append(AccountSource(path, pairs, platform=None if plat is None else str(plat).lower(),
                                     month_of=month_of))

    interventions: list[Intervention] = []
    example = "{date: 2022-01-01, label: Designer joined}"
    for i, item in enumerate(_map_list(data.get("interventions"), "interventions", example, card)):
        if not isinstance(item, dict):
            raise _fail(f"interventions[{i}] must be a map like {example}, found {_show(item)}", card)
        _check_keys(item, INTERVENTION_KEYS, f"interventions[{i}]", card)
        if "date" not in item:
            raise _fail(f"interventions[{i}] has no 'date'", card)
        label = _text(item["label"], f"interventions[{i}].label", card) if "label" in item else f"Change {i + 1}"
        interventions.append(Intervention(_date(item["date"], f"interventions[{i}].date", card), label))
    dates = [iv.date for iv in interventions]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise _fail(f"interventions must have distinct dates in increasing order, found {[str(d) for d in dates]}",
                    card)

    a = data.get("analysis") or {}
    if not isinstance(a, dict):
        raise _fail(f"'analysis' must be a map, found {_show(a)}", card)
    _check_keys(a, ANALYSIS_KEYS, "analysis", card)
    margin = a.get("equivalence_margin", (0.8, 1.25))
    if (
        not isinstance(margin, (list, tuple))
        or len(margin) != 2
        or not all(isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m) for m in margin)
        or not 0 < margin[0] < 1 < margin[1]
    ):
        raise _fail(f"analysis.equivalence_margin must be [low, high] with 0 < low < 1 < high, found {_show(margin)}",
                    card)
    maxlags = a.get("hac_maxlags")
    if maxlags is not None and (not isinstance(maxlags, int) or isinstance(maxlags, bool) or not 0 <= maxlags <= 10_000):
        raise _fail(f"analysis.hac_maxlags must be a whole number ≥ 0, found {_show(maxlags)}", card)
    population = a.get("population")
    if population is None:
        pass
    elif isinstance(population, list) and population and all(p in POST_TYPES for p in population):
        population = tuple(dict.fromkeys(population))
    elif not (isinstance(population, str) and population in POPULATIONS + POST_TYPES):
        raise _fail(
            f"analysis.population must be one of {list(POPULATIONS)} or a list of post types from "
            f"{list(POST_TYPES)} (e.g. [original, quote]), found {_show(population)}",
            card,
        )
    refs = a.get("reference_levels") or {}
    if not isinstance(refs, dict) or not all(isinstance(k, str) and isinstance(v, (str, int)) for k, v in refs.items()):
        raise _fail(f"analysis.reference_levels must map a column to its reference level, found {_show(refs)}", card)
    analysis = Analysis(
        outcomes=_str_list(a.get("outcomes"), "analysis.outcomes", card) or DEFAULT_OUTCOMES,
        predictors=_str_list(a.get("predictors"), "analysis.predictors", card) or DEFAULT_PREDICTORS,
        controls=_str_list(a["controls"], "analysis.controls", card) if "controls" in a else DEFAULT_CONTROLS,
        growth_metric=_text(a.get("growth_metric", "followers"), "analysis.growth_metric", card, numbers=False),
        monthly_metrics=_str_list(a.get("monthly_metrics"), "analysis.monthly_metrics", card)
        or ("impressions", "engagements", "posts"),
        equivalence_margin=(float(margin[0]), float(margin[1])),
        hac_maxlags=maxlags,
        population=population,
        reference_levels=tuple((str(k), str(v)) for k, v in refs.items()),
    )
    circular = [p for p in (*analysis.predictors, *analysis.controls) if p in analysis.outcomes]
    if circular:
        raise _fail(f"{circular[0]!r} is both an outcome and a predictor/control in analysis: a metric cannot "
                    f"explain itself. Remove it from analysis.predictors/controls, or from analysis.outcomes "
                    f"(outcomes: {list(analysis.outcomes)})", card)

    goals: list[Goal] = []
    example = "{metric: followers, target: 2000, by: 2023-12-31}"
    for i, item in enumerate(_map_list(data.get("goals"), "goals", example, card)):
        if not isinstance(item, dict):
            raise _fail(f"goals[{i}] must be a map like {example}, found {_show(item)}", card)
        _check_keys(item, GOAL_KEYS, f"goals[{i}]", card)
        for req in ("metric", "target", "by"):
            if req not in item:
                raise _fail(f"goals[{i}] has no {req!r}", card)
        target = _number(item["target"], f"goals[{i}].target", card)
        goals.append(Goal(_text(item["metric"], f"goals[{i}].metric", card, numbers=False), target,
                          _date(item["by"], f"goals[{i}].by", card),
                          _text(item.get("label", ""), f"goals[{i}].label", card)))

    publications = [AccountSource(path, pairs) for path, pairs, _ in _source_entries(
        data.get("publications"), "publications", PUBLICATION_KEYS, card, noun="glob",
        columns_hint=" (doi, title, journal, published)")]
    attention = tuple(check_card_pattern(p, "attention", card=card)
                      for p in _str_list(data.get("attention"), "attention", card))
    if attention and not publications:
        raise _fail("'attention' is set but 'publications' is not: attention is read per publication, so the card "
                    "needs the publication list too", card)

    claims = _claims(data.get("claims"), card)

    return Dataset(
        root=Path(root),
        name=name,
        title=_text(data.get("title", name), "title", card),
        timezone=tz,
        posts=posts,
        account=tuple(account),
        codes=codes,
        codebook=codebook,
        interventions=tuple(interventions),
        analysis=analysis,
        goals=tuple(goals),
        publications=tuple(publications),
        attention=attention,
        campaigns=tuple(check_card_pattern(p, "campaigns", card=card)
                        for p in _str_list(data.get("campaigns"), "campaigns", card)),
        claims=claims,
    )


def _frozen(value: Any) -> Any:
    """Maps and lists as tuples, so the frozen card stays hashable (``workbench.claims`` thaws them)."""
    if isinstance(value, dict):
        return tuple((str(k), _frozen(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _claims(raw: Any, card: Path) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """The card's ``claims:`` list, validated (keys, required fields, metric kind, a numeric effect)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(f"'claims' must be a list of maps (id, claim, source, metric, effect, …), found {raw!r}", card)
    out, seen = [], set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _fail(f"claims[{i}] must be a map with {', '.join(CLAIM_REQUIRED)}, found {item!r}", card)
        _check_keys(item, CLAIM_KEYS, f"claims[{i}]", card)
        for req in CLAIM_REQUIRED:
            if item.get(req) in (None, ""):
                raise _fail(f"claims[{i}] has no {req!r} (required: {', '.join(CLAIM_REQUIRED)})", card)
        if item["metric"] not in CLAIM_METRICS:
            raise _fail(f"claims[{i}].metric must be one of {', '.join(CLAIM_METRICS)}, found {item['metric']!r}",
                        card)
        effect = item["effect"]
        if isinstance(effect, bool) or not isinstance(effect, (int, float)) or effect != effect:
            raise _fail(f"claims[{i}].effect must be a number, found {effect!r}", card)
        if item["metric"] == "regression" and not (item.get("term") and item.get("outcome")):
            raise _fail(f"claims[{i}]: a regression claim needs 'term' and 'outcome' (as in regression.csv)", card)
        window = item.get("window")
        if window is not None:
            ok = isinstance(window, dict) and set(window) <= {"weekdays", "hours"} and all(
                isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool)
                                                  and 0 <= x <= (6 if k == "weekdays" else 23) for x in v)
                for k, v in window.items())
            if not ok:
                raise _fail(f"claims[{i}].window must be a map with weekdays (0 = Monday … 6) and/or hours (0 … 23) "
                            f"lists, e.g. {{weekdays: [0, 1, 2, 3, 4], hours: [12]}}; found {window!r}", card)
        if str(item["id"]) in seen:
            raise _fail(f"claims[{i}].id {item['id']!r} is used twice", card)
        seen.add(str(item["id"]))
        out.append(tuple((str(k), _frozen(v)) for k, v in item.items()))
    return tuple(out)


# --------------------------------------------------------------------------------------------------------------
# the names the card may use: checked before any notebook runs

#: Manual codes the README's example card uses; they exist once coding files provide them, so a card may name
#: them before any coding file exists (the model drops an absent predictor with a warning).
COMMON_MANUAL_CODES = ("has_poll", "has_graphic")


def card_vocabulary(ds: Dataset, *, manual_codes: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """What each card setting may name: ``{setting: names the workbench can provide}``.

    ``outcomes``: post metrics; ``predictors``/``controls``: automatic features, post columns (``is_reply`` …),
    codebook codes and ``manual_codes`` (codes found in the coding files); ``growth_metric`` and goal metrics:
    account metrics; ``monthly_metrics``: account metrics, ``impressions_per_post``; ``columns``: the canonical
    account columns a column map may target.
    """
    # names only: features, ingest and coding load pandas (≈ 0.4 CPU-s in the CLI, which checks the card while the
    # first kernel starts); growth's names are read from workbench.names (importing growth loads statsmodels)
    post_derivable = POST_DERIVABLE
    from .codebook import load_codebook
    from .schema import ACCOUNT_COLUMNS, ACCOUNT_METRICS, POST_METRICS, POSTS_SCHEMA

    not_features = {"post_id", "account", "published_at", "text", "permalink", "source_format", "source_file",
                    "source_row", "platform"}
    post_columns = [c for c in POSTS_SCHEMA if c not in not_features]
    codebook_codes: tuple[str, ...] = ()
    cb = ds.codebook_path()
    if cb is not None and cb.exists():
        codebook_codes = load_codebook(cb).names
    features = tuple(dict.fromkeys([*AUTOMATIC_FEATURES, *post_columns, *codebook_codes, *manual_codes,
                                    *COMMON_MANUAL_CODES]))
    return {
        "outcomes": tuple(POST_METRICS),
        "predictors": features,
        "controls": features,
        "growth_metric": tuple(ACCOUNT_METRICS),
        "goals": tuple(ACCOUNT_METRICS),
        "monthly_metrics": tuple(dict.fromkeys([*ACCOUNT_METRICS, *post_derivable, "impressions_per_post"])),
        "columns": tuple(ACCOUNT_COLUMNS),
    }


def check_card_vocabulary(ds: Dataset, *, manual_codes: tuple[str, ...] | None = None) -> list[str]:
    """Check every name the card uses against :func:`card_vocabulary`; raise DatasetCardError listing the
    names available.

    ``manual_codes``: the codes the coding files hold, once ingest has read them. Before that (None), a
    predictor or control that only a coding file could provide is not an error yet when the card lists
    ``codes:`` files: it is returned, to be checked after ingest.
    """
    vocab = card_vocabulary(ds, manual_codes=tuple(manual_codes or ()))
    card = ds.card_path
    a = ds.analysis
    deferred: list[str] = []

    def refuse(setting: str, name: str, vocabulary: str) -> DatasetCardError:
        return _fail(f"{setting} names {_show(name)}, which the workbench cannot provide. Available: "
                     f"{', '.join(vocab[vocabulary])}", card)

    for name in a.outcomes:
        if name not in vocab["outcomes"]:
            raise refuse("analysis.outcomes", name, "outcomes")
    for setting, names in (("analysis.predictors", a.predictors), ("analysis.controls", a.controls)):
        for name in names:
            if name in vocab["predictors"]:
                continue
            if manual_codes is None and ds.codes:
                deferred.append(name)
                continue
            raise refuse(setting, name, "predictors")
    if a.growth_metric not in vocab["growth_metric"]:
        raise refuse("analysis.growth_metric", a.growth_metric, "growth_metric")
    for name in a.monthly_metrics:
        if name not in vocab["monthly_metrics"]:
            raise refuse("analysis.monthly_metrics", name, "monthly_metrics")
    for i, g in enumerate(ds.goals):
        if g.metric not in vocab["goals"]:
            raise refuse(f"goals[{i}].metric", g.metric, "goals")
    for src in ds.account:
        for raw, canonical in src.columns:
            if canonical not in vocab["columns"]:
                raise refuse(f"account {src.path!r} columns ({raw!r} →)", canonical, "columns")
    return deferred


# --------------------------------------------------------------------------------------------------------------
# reading the card: a YAML loader without aliases, anchors, implicit dates or unbounded sizes

#: Largest card file we read (bytes): a card is a few hundred bytes.
MAX_CARD_BYTES = 256 * 1024
#: Longest single text value in a card (characters).
MAX_VALUE_CHARS = 10_000
#: Deepest nesting of lists and maps in a card.
MAX_CARD_DEPTH = 20
#: Most values (scalars, lists, maps) in one card.
MAX_CARD_NODES = 20_000


class CardYAMLError(yaml.YAMLError):
    """A YAML construct the card loader refuses (aliases, anchors, oversize values, duplicate keys)."""


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "the card"


class CardLoader(yaml.SafeLoader):
    """PyYAML's safe loader, hardened for files other people write.

    Refuses anchors and aliases (``&a``/``*a``: an "alias bomb" of a few hundred bytes expands to gigabytes) and
    with them ``<<`` merge keys; limits the nesting depth, the number of values and each text's length; refuses a
    key given twice; and reads dates as text (the card's own checks parse them, so ``2022-13-45`` is a message,
    not a crash).
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise CardYAMLError(f"{_where(event.start_mark)}: YAML aliases (*{event.anchor}) are not allowed in a "
                                "dataset card; write the value out")
        if getattr(event, "anchor", None):
            raise CardYAMLError(f"{_where(event.start_mark)}: YAML anchors (&{event.anchor}) are not allowed in a "
                                "dataset card; write the value out")
        self._nodes += 1
        if self._nodes > MAX_CARD_NODES:
            raise CardYAMLError(f"{_where(event.start_mark)}: more than {MAX_CARD_NODES:,} values; a dataset card is "
                                "a short settings file")
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_VALUE_CHARS:
            raise CardYAMLError(f"{_where(event.start_mark)}: a value of {len(event.value):,} characters; values "
                                f"are limited to {MAX_VALUE_CHARS:,}")
        self._depth += 1
        try:
            if self._depth > MAX_CARD_DEPTH:
                raise CardYAMLError(f"{_where(event.start_mark)}: lists and maps nested more than {MAX_CARD_DEPTH} "
                                    "deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise CardYAMLError(f"{_where(key_node.start_mark)}: key {_visible(key)!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# dates stay text: parse_card reads them (a bad date is a message, not a ValueError from the YAML constructor)
CardLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_text(text: str) -> Any:
    """Parse YAML written by someone else with :class:`CardLoader` (no aliases, bounded sizes)."""
    loader = CardLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def check_yaml_file(path: Path, what: str) -> None:
    """DatasetCardError unless the YAML file at ``path`` passes :class:`CardLoader`'s limits (no aliases or
    anchors, bounded size, no duplicate keys): for YAML files the card names, such as the codebook, before
    the module that reads them parses them."""
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise DatasetCardError(f"the {what} is {size:,} bytes; at most {MAX_CARD_BYTES:,} are read", file=path)
        with open(path, "rb") as fh:
            text = decode_card(fh.read(MAX_CARD_BYTES + 1), file=path)
    except OSError as exc:
        raise DatasetCardError(f"cannot read the {what} ({exc.strerror})", file=path) from None
    try:
        load_yaml_text(text)
    except CardYAMLError as exc:
        raise DatasetCardError(str(exc), file=path) from None
    except RecursionError:
        raise DatasetCardError(f"lists and maps nested more than {MAX_CARD_DEPTH} deep", file=path) from None
    except yaml.YAMLError:
        pass  # a syntax error: the reader of the file reports it in its own words


def decode_card(data: bytes, *, file: Path) -> str:
    """The card's text: UTF-8 (with or without BOM) or UTF-16/32 with a BOM; anything else is a clear error."""
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise DatasetCardError(f"the card starts with a {enc.upper()} byte-order mark but is not valid "
                                       f"{enc.upper()} (byte {exc.start}); save it as UTF-8", file=file) from None
    if b"\x00" in data:
        even, odd = data[0::2].count(0), data[1::2].count(0)
        guess = (" It looks like UTF-16 without a byte-order mark." if max(even, odd) > len(data) // 4 else "")
        raise DatasetCardError(f"the card holds NUL bytes, so it is not UTF-8 text.{guess} Save it as UTF-8.",
                               file=file)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetCardError(f"the card is not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r}). "
                               "Save it as UTF-8.", file=file) from None


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate ``dataset.yml`` in the folder ``path`` (or the card file itself)."""
    path = Path(path)
    card = path / CARD_NAME if path.is_dir() else path
    try:
        st = card.stat()
    except OSError:
        st = None
    if st is None or not card.exists():
        raise DatasetCardError(
            f"no dataset card: expected {CARD_NAME} in {_visible(str(path))}. See README 'Run it on your own exports'.",
            file=_visible(str(card)),
        )
    if not stat.S_ISREG(st.st_mode):
        raise DatasetCardError("the card is not a regular file (a pipe or a device?); expected a YAML file",
                               file=_visible(str(card)))
    if st.st_size > MAX_CARD_BYTES:
        raise DatasetCardError(f"the card is {st.st_size:,} bytes; a dataset card is a short settings file "
                               f"(at most {MAX_CARD_BYTES:,} bytes)", file=card)
    try:
        with open(card, "rb") as fh:
            raw = fh.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise DatasetCardError(f"cannot read the card ({exc.strerror})", file=card) from None
    text = decode_card(raw, file=card)
    try:
        data = load_yaml_text(text)
    except CardYAMLError as exc:
        raise DatasetCardError(str(exc), file=card) from None
    except yaml.YAMLError as exc:
        raise DatasetCardError(f"not valid YAML: {_visible(str(exc))}", file=card) from None
    except RecursionError:
        raise DatasetCardError(f"lists and maps nested more than {MAX_CARD_DEPTH} deep", file=card) from None
    try:
        return parse_card(data, card.parent.resolve(), card)
    except DatasetCardError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        # a safety net: every check above names the key; a card shape none of them foresaw still gets a message
        raise DatasetCardError(f"the card could not be read ({type(exc).__name__}: {_visible(str(exc))}). Compare "
                               "it with the example in README 'Run it on your own exports'.", file=card) from None

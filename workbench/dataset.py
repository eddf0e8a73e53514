"""The dataset card (``dataset.yml``) → validated, frozen settings (DESIGN.md §3)."""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .errors import DatasetCardError
from .schema import PLATFORMS

CARD_NAME = "dataset.yml"

TOP_KEYS = (
    "name", "title", "timezone", "posts", "account", "codes", "codebook",
    "interventions", "analysis", "goals", "campaigns", "claims",
)
ANALYSIS_KEYS = (
    "outcomes", "predictors", "controls",
    "growth_metric", "monthly_metrics", "equivalence_margin", "hac_maxlags",
)
GOAL_KEYS = ("metric", "target", "by", "label")
INTERVENTION_KEYS = ("date", "label")
ACCOUNT_KEYS = ("path", "columns", "platform")
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
    #: globs of paid-campaign exports (Meta Ads Manager, LinkedIn Campaign Manager, X Ads)
    campaigns: tuple[str, ...] = ()
    #: the card's own published claims, each a tuple of (key, value) pairs (see CLAIM_KEYS)
    claims: tuple[tuple[tuple[str, Any], ...], ...] = ()

    @property
    def card_path(self) -> Path:
        return self.root / CARD_NAME

    def _expand(self, patterns: tuple[str, ...], what: str) -> list[Path]:
        files: list[Path] = []
        for pattern in patterns:
            matches = sorted(Path(p) for p in glob.glob(str(self.root / pattern), recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise DatasetCardError(
                    f"{what} pattern {pattern!r} matches no file under {self.root}", file=self.card_path
                )
            files.extend(m for m in matches if m not in files)
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
        return self._expand(self.codes, "codes") if self.codes else []

    def codebook_path(self) -> Path | None:
        return None if self.codebook is None else self.root / self.codebook

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


def _fail(msg: str, card: Path) -> DatasetCardError:
    return DatasetCardError(msg, file=card)


def _check_keys(obj: dict, allowed: tuple[str, ...], where: str, card: Path) -> None:
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        raise _fail(f"unknown key {unknown[0]!r} in {where}. Allowed keys: {', '.join(allowed)}", card)


def _str_list(value: Any, key: str, card: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{key!r} must be a string or a list of strings, found {value!r}", card)
    return tuple(value)


def _date(value: Any, key: str, card: Path) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _fail(f"{key} must be a date like 2022-01-31, found {value!r}", card) from None


def parse_card(data: Any, root: Path, card: Path | None = None) -> Dataset:
    """Validate a parsed card (a dict) and return the frozen settings."""
    card = card or root / CARD_NAME
    if not isinstance(data, dict):
        raise _fail(f"the card must be a mapping of keys to values, found {type(data).__name__}", card)
    _check_keys(data, TOP_KEYS, "the card", card)
    for req in ("name", "posts"):
        if req not in data:
            raise _fail(f"required key {req!r} is missing. Keys found: {sorted(data)}", card)
    name = str(data["name"])
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        raise _fail(f"name must use only a-z, 0-9, '_' and '-', found {name!r}", card)
    tz = str(data.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"timezone {tz!r} is not an IANA zone name (e.g. America/New_York, Europe/London)", card) from None

    account: list[AccountSource] = []
    raw_account = data.get("account") or []
    if isinstance(raw_account, (str, dict)):
        raw_account = [raw_account]
    if not isinstance(raw_account, list):
        raise _fail(f"'account' must be a list of paths or {{path, columns}} maps, found {raw_account!r}", card)
    for item in raw_account:
        if isinstance(item, str):
            account.append(AccountSource(item))
        elif isinstance(item, dict):
            _check_keys(item, ACCOUNT_KEYS, "an account entry", card)
            if "path" not in item:
                raise _fail(f"account entry {item!r} has no 'path'", card)
            cols = item.get("columns") or {}
            if not isinstance(cols, dict):
                raise _fail(f"account columns must map raw name → canonical name, found {cols!r}", card)
            plat = item.get("platform")
            if plat is not None and str(plat).lower() not in PLATFORMS:
                raise _fail(f"account platform must be one of {', '.join(PLATFORMS)}, found {plat!r}", card)
            account.append(AccountSource(str(item["path"]), tuple((str(k), str(v)) for k, v in cols.items()),
                                         None if plat is None else str(plat).lower()))
        else:
            raise _fail(f"account entry must be a path or a {{path, columns}} map, found {item!r}", card)

    interventions: list[Intervention] = []
    for i, item in enumerate(data.get("interventions") or []):
        if not isinstance(item, dict):
            raise _fail(f"interventions[{i}] must be a map with date and label, found {item!r}", card)
        _check_keys(item, INTERVENTION_KEYS, f"interventions[{i}]", card)
        if "date" not in item:
            raise _fail(f"interventions[{i}] has no 'date'", card)
        interventions.append(
            Intervention(_date(item["date"], f"interventions[{i}].date", card), str(item.get("label", f"Change {i + 1}")))
        )
    dates = [iv.date for iv in interventions]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise _fail(f"interventions must have distinct dates in increasing order, found {dates}", card)

    a = data.get("analysis") or {}
    if not isinstance(a, dict):
        raise _fail(f"'analysis' must be a map, found {a!r}", card)
    _check_keys(a, ANALYSIS_KEYS, "analysis", card)
    margin = a.get("equivalence_margin", (0.8, 1.25))
    if (
        not isinstance(margin, (list, tuple))
        or len(margin) != 2
        or not all(isinstance(m, (int, float)) for m in margin)
        or not 0 < margin[0] < 1 < margin[1]
    ):
        raise _fail(f"analysis.equivalence_margin must be [low, high] with 0 < low < 1 < high, found {margin!r}", card)
    maxlags = a.get("hac_maxlags")
    if maxlags is not None and (not isinstance(maxlags, int) or maxlags < 0):
        raise _fail(f"analysis.hac_maxlags must be a whole number ≥ 0, found {maxlags!r}", card)
    analysis = Analysis(
        outcomes=_str_list(a.get("outcomes"), "analysis.outcomes", card) or DEFAULT_OUTCOMES,
        predictors=_str_list(a.get("predictors"), "analysis.predictors", card) or DEFAULT_PREDICTORS,
        controls=_str_list(a["controls"], "analysis.controls", card) if "controls" in a else DEFAULT_CONTROLS,
        growth_metric=str(a.get("growth_metric", "followers")),
        monthly_metrics=_str_list(a.get("monthly_metrics"), "analysis.monthly_metrics", card)
        or ("impressions", "engagements", "posts"),
        equivalence_margin=(float(margin[0]), float(margin[1])),
        hac_maxlags=maxlags,
    )

    goals: list[Goal] = []
    for i, item in enumerate(data.get("goals") or []):
        if not isinstance(item, dict):
            raise _fail(f"goals[{i}] must be a map with metric, target and by, found {item!r}", card)
        _check_keys(item, GOAL_KEYS, f"goals[{i}]", card)
        for req in ("metric", "target", "by"):
            if req not in item:
                raise _fail(f"goals[{i}] has no {req!r}", card)
        try:
            target = float(item["target"])
        except (TypeError, ValueError):
            raise _fail(f"goals[{i}].target must be a number, found {item['target']!r}", card) from None
        goals.append(Goal(str(item["metric"]), target, _date(item["by"], f"goals[{i}].by", card), str(item.get("label", ""))))

    claims = _claims(data.get("claims"), card)

    return Dataset(
        root=Path(root),
        name=name,
        title=str(data.get("title", name)),
        timezone=tz,
        posts=_str_list(data.get("posts"), "posts", card),
        account=tuple(account),
        codes=_str_list(data.get("codes"), "codes", card),
        codebook=None if data.get("codebook") is None else str(data["codebook"]),
        interventions=tuple(interventions),
        analysis=analysis,
        goals=tuple(goals),
        campaigns=_str_list(data.get("campaigns"), "campaigns", card),
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


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate ``dataset.yml`` in the folder ``path`` (or the card file itself)."""
    path = Path(path)
    card = path if path.is_file() else path / CARD_NAME
    if not card.exists():
        raise DatasetCardError(
            f"no dataset card: expected {CARD_NAME} in {path}. See README 'Bring your own exports'.", file=card
        )
    try:
        data = yaml.safe_load(card.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DatasetCardError(f"not valid YAML: {exc}", file=card) from None
    return parse_card(data, card.parent.resolve(), card)

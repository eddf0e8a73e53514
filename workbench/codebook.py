"""The codebook of manual codes (``codebook.yml``): reading and validating it.

Apart from :mod:`workbench.coding` (which re-exports all of it) so that checking a dataset card, which reads the
codebook's names before any kernel starts, loads no pandas (≈ 0.4 CPU-s of every ``workbench run``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError
from .names import AUTOMATIC_FEATURES
from .schema import POSTS_SCHEMA

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # one label of a host name
_DOMAIN_RE = re.compile(r"(?:" + _LABEL + r"\.)+[a-z]{2,63}")


def normalize_research_domains(domains) -> tuple[str, ...]:
    """``domains`` as a tuple of lower-case host names without ``www.``; an InputError names a bad one."""
    if isinstance(domains, str):
        domains = [domains]
    out = []
    for d in domains:
        host = str(d).strip().lower()
        host = host[4:] if host.startswith("www.") else host
        if not _DOMAIN_RE.fullmatch(host):
            raise InputError(
                f"research domain {d!r} is not a host name; expected a domain such as 'nejm.org' or "
                "'jamanetwork.com' (no 'https://', no path)"
            )
        out.append(host)
    return tuple(dict.fromkeys(out))


# --- codebook ------------------------------------------------------------------------------------------

#: Keys of a codebook file (``codes`` is required).
CODEBOOK_KEYS = ("title", "description", "research_domains", "codes")
#: Keys of one code (``name``, ``type`` and ``definition`` are required; ``levels`` for categorical codes).
CODE_KEYS = ("name", "type", "label", "definition", "include", "exclude", "examples", "levels", "automatic")
CODE_TYPES = ("binary", "categorical")
#: The values a binary code takes in coding files.
BINARY_VALUES = ("0", "1")
_CODE_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

#: Manual codes that measure what an automatic feature measures, compared by
#: :func:`compare_manual_automatic` even when the codebook does not say so (``automatic:``).
DEFAULT_MANUAL_AUTOMATIC = {
    "has_link": "has_url",
    "has_question": "is_question",
    "has_thread": "has_thread_marker",
    "has_cta": "has_call_to_action",
}


def _looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` as a formula: it starts with =, +, -, @, tab or CR (OWASP's
    list) and is not simply a number such as ``-1``."""
    if not text or text[0] not in "=+-@\t\r":
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


class CodebookError(InputError):
    """An invalid codebook file: names the file, the code and the key, and what was expected."""


@dataclass(frozen=True)
class Code:
    """One manual code of a codebook."""

    name: str
    type: str  # "binary" or "categorical"
    definition: str
    label: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()  # categorical codes only
    automatic: str | None = None  # the automatic feature that measures the same thing, if any

    @property
    def values(self) -> tuple[str, ...]:
        """The values a coding file may hold for this code: ``("0", "1")`` or the levels."""
        return BINARY_VALUES if self.type == "binary" else self.levels


@dataclass(frozen=True)
class Codebook:
    """A validated, frozen codebook (see :func:`load_codebook`)."""

    codes: tuple[Code, ...]
    research_domains: tuple[str, ...] = ()
    title: str = ""
    description: str = ""
    path: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.codes)

    @property
    def binary_codes(self) -> frozenset[str]:
        """Names of the binary codes (for ingest's ``binary_codes=``)."""
        return frozenset(c.name for c in self.codes if c.type == "binary")

    def code(self, name: str) -> Code:
        """The code called ``name``; an InputError lists the codes there are."""
        for c in self.codes:
            if c.name == name:
                return c
        raise InputError(f"no code {name!r} in the codebook; codes: {list(self.names)}", file=self.path)


def _texts(value, *, where: str, key: str, file) -> tuple[str, ...]:
    """A text or a list of texts as a tuple of stripped, non-empty strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str | int | float) for v in items):
        raise CodebookError(
            f"{where}: key {key!r} must be a text or a list of texts, found {value!r}", file=file
        )
    return tuple(s for s in (str(v).strip() for v in items) if s)


def _parse_code(entry, index: int, *, file, seen: set[str]) -> Code:
    where = f"codes[{index}]"
    if not isinstance(entry, dict):
        raise CodebookError(
            f"{where}: expected a mapping with keys {list(CODE_KEYS)}, found {entry!r}", file=file
        )
    name = entry.get("name")
    if name is not None:
        where = f"code {name!r} ({where})"
    unknown = [k for k in entry if k not in CODE_KEYS]
    if unknown:
        raise CodebookError(f"{where}: unknown keys {unknown}; allowed keys: {list(CODE_KEYS)}", file=file)
    for key in ("name", "type", "definition"):
        if entry.get(key) is None or str(entry[key]).strip() == "":
            raise CodebookError(f"{where}: missing required key {key!r}", file=file)
    name = str(name).strip()
    if not isinstance(entry["name"], str) or not _CODE_NAME_RE.fullmatch(name):
        raise CodebookError(
            f"{where}: name {entry['name']!r} must be lower case letters, digits and _ starting with a letter "
            "(it is the column name in the coding files, e.g. has_poll)",
            file=file,
        )
    if name in seen:
        raise CodebookError(f"{where}: code {name!r} is defined twice", file=file)
    if name in POSTS_SCHEMA or name in ("coder", "coded_at"):
        raise CodebookError(
            f"{where}: name {name!r} is a column of the posts table or of the coding files; choose another",
            file=file,
        )
    kind = str(entry["type"]).strip().lower()
    if kind not in CODE_TYPES:
        raise CodebookError(f"{where}: type {entry['type']!r} is not one of {list(CODE_TYPES)}", file=file)
    levels: tuple[str, ...] = ()
    if kind == "categorical":
        raw = entry.get("levels")
        if not isinstance(raw, list) or len(raw) < 2:
            raise CodebookError(
                f"{where}: a categorical code needs 'levels', a list of at least two level names; found {raw!r}",
                file=file,
            )
        levels = tuple(str(v).strip() for v in raw)
        if any(v == "" or "\n" in v for v in levels) or len(set(levels)) != len(levels):
            raise CodebookError(
                f"{where}: levels must be distinct, non-empty one-line names; found {raw!r}", file=file
            )
        formula = [v for v in levels if _looks_like_formula(v)]
        if formula:
            raise CodebookError(
                f"{where}: levels {formula} start like a spreadsheet formula (=, +, -, @) and would be written "
                "as such into the coding files; rename them (a number such as -1 is fine)",
                file=file,
            )
    elif "levels" in entry:
        raise CodebookError(
            f"{where}: a binary code takes 0/1 and has no 'levels'; remove them or use type: categorical",
            file=file,
        )
    automatic = entry.get("automatic")
    if automatic is not None:
        allowed = sorted(f for f in AUTOMATIC_FEATURES if f.startswith(("has_", "is_")))
        if automatic == name:
            raise CodebookError(
                f"{where}: 'automatic' names the code itself; a manual code named like an automatic feature "
                "replaces it, so rename the manual code (e.g. has_link with automatic: has_url)",
                file=file,
            )
        if kind != "binary" or automatic not in allowed:
            raise CodebookError(
                f"{where}: 'automatic' names the yes/no automatic feature a binary code is compared with; "
                f"found {automatic!r} (type {kind}); allowed: {allowed}",
                file=file,
            )
    examples = entry.get("examples", [])
    if not isinstance(examples, list):
        raise CodebookError(f"{where}: 'examples' must be a list of texts, found {examples!r}", file=file)
    return Code(
        name=name,
        type=kind,
        definition=" ".join(str(entry["definition"]).split()),
        label=str(entry.get("label") or name).strip(),
        include=_texts(entry.get("include", []), where=where, key="include", file=file),
        exclude=_texts(entry.get("exclude", []), where=where, key="exclude", file=file),
        examples=_texts(examples, where=where, key="examples", file=file),
        levels=levels,
        automatic=automatic,
    )


def parse_codebook(data, *, file: str | Path | None = None) -> Codebook:
    """Return a validated :class:`Codebook` from the parsed YAML ``data`` (see :func:`load_codebook`)."""
    if not isinstance(data, dict):
        raise CodebookError(
            f"expected a mapping with keys {list(CODEBOOK_KEYS)}, found {type(data).__name__}", file=file
        )
    unknown = [k for k in data if k not in CODEBOOK_KEYS]
    if unknown:
        raise CodebookError(f"unknown keys {unknown}; allowed keys: {list(CODEBOOK_KEYS)}", file=file)
    entries = data.get("codes")
    if not isinstance(entries, list):
        raise CodebookError(
            f"key 'codes' must be a list of codes (each with {list(CODE_KEYS[:4])}); found {entries!r}",
            file=file,
        )
    seen: set[str] = set()
    codes = []
    for i, entry in enumerate(entries):
        code = _parse_code(entry, i, file=file, seen=seen)
        seen.add(code.name)
        codes.append(code)
    domains = data.get("research_domains") or []
    if not isinstance(domains, list):
        raise CodebookError(f"key 'research_domains' must be a list of domains, found {domains!r}", file=file)
    try:
        research = normalize_research_domains([str(d) for d in domains])
    except InputError as exc:
        raise CodebookError(f"key 'research_domains': {exc}", file=file) from None
    return Codebook(
        codes=tuple(codes),
        research_domains=research,
        title=str(data.get("title") or "").strip(),
        description=" ".join(str(data.get("description") or "").split()),
        path=None if file is None else str(file),
    )


def load_codebook(path: str | Path) -> Codebook:
    """Return the validated codebook in ``path`` (YAML).

    The file (``codebook.yml``)::

        title: Manual codes of our network          # optional
        description: ...                            # optional
        research_domains: [nejm.org, jamanetwork.com]   # optional: journal/publisher domains
        codes:
          - name: has_poll            # required: the column name in the coding files ([a-z][a-z0-9_]*)
            type: binary              # required: binary (0/1) or categorical
            label: Poll               # optional (default: the name)
            definition: ...           # required
            include: ...              # optional: a text or a list of texts
            exclude: ...              # optional: a text or a list of texts
            examples: [..., ...]      # optional: a list of texts
            automatic: has_url        # optional (binary codes): the automatic feature measuring the same
          - name: tone
            type: categorical
            levels: [negative, neutral, positive]   # required for categorical codes
            definition: ...

    Raises :class:`CodebookError` naming the file, the code and the key: unknown keys are listed with the
    allowed ones, missing required keys are named, names must be valid and unique, types known,
    categorical codes need at least two distinct levels, binary codes have none, ``automatic`` must name a
    yes/no automatic feature, research domains must be host names.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodebookError(f"cannot read the codebook: {exc.strerror or exc}", file=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CodebookError(f"not valid YAML: {exc}", file=path) from None
    return parse_codebook(data, file=path)

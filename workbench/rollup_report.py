"""HTML for the consortium roll-up and the cohort study: Jinja2 (autoescape on), one self-contained file.

The look is the account report's (``report/report.css``, plus the few additions in ``templates/consortium.css``);
the templates are our own so the account report can change independently. Figures are embedded as PNG data URIs (and also kept as files beside the results).
"""

from __future__ import annotations

import base64
import datetime as dt
from io import BytesIO
from pathlib import Path
from typing import Any

from .io import write_bytes

TEMPLATES = Path(__file__).resolve().parent / "templates"


def save_figure(fig, path: str | Path) -> str:
    """Write ``fig`` as PNG to ``path`` (atomically) and return it as a ``data:`` URI for the HTML."""
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    data = buf.getvalue()
    write_bytes(path, data)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def render_html(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with autoescaping; the CSS is inlined."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    account_css = Path(__file__).resolve().parent / "report" / "report.css"
    css = account_css.read_text(encoding="utf-8") + (TEMPLATES / "consortium.css").read_text(encoding="utf-8")
    return env.get_template(template).render(css=css, generated=dt.date.today().isoformat(), **context)


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df):
    """A copy of ``df`` whose text cells cannot start a spreadsheet formula (DESIGN.md §7): a leading
    ``= + - @``, tab or CR gets a ``'`` in front. Numbers are left alone."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or str(out[c].dtype) == "string":
            s = out[c]
            mask = s.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_PREFIXES))
            if mask.any():
                out.loc[mask, c] = "'" + s[mask].astype(str)
    return out

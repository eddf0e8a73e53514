"""An interactive model explorer for JupyterLab: pick outcome, predictors, controls and model; see the effects.

Every change refits with :func:`workbench.models.fit_post_models` and redraws a forest plot
(:func:`workbench.plots.plot_forest`) and the effects table. All logic lives in :class:`ModelExplorer` and is
usable without a browser::

    explorer = ModelExplorer(posts_coded, outcomes=["impressions", "engagements"],
                             predictors=["has_poll", "has_url"], controls=["followers_at_post", "year"])
    explorer.select(outcome="engagements", model="negbin_rate")
    explorer.table          # the predictor rows of the current fit
    explorer                # in a notebook: the widgets, plot and table

Predictors and controls are check boxes (a click toggles one, never clears the others); the table's headers
are words; while a refit runs, the panel says so and its controls are disabled. In a notebook on a run
folder, ``ModelExplorer.for_dataset(posts_coded, ds)`` offers the card's choices that the data has.

Batch runs never need this module.
"""

from __future__ import annotations

import warnings as pywarnings
from collections.abc import Sequence

import pandas as pd

from .errors import InputError
from .models import DEFAULT_CONTROLS, DEFAULT_PREDICTORS, MODELS, ModelWarning, PostModels, fit_post_models

#: the effects table's columns, in order.
TABLE_COLUMNS = (
    "term",
    "effect_pct",
    "effect_pct_ci_low",
    "effect_pct_ci_high",
    "estimate",
    "std_error",
    "p_value",
    "p_holm",
    "p_bh",
    "std_beta",
    "n",
)

#: The table's headers in words (the HTML table; ``table`` keeps the column names).
TABLE_HEADERS = {
    "term": "Predictor",
    "effect_pct": "Change (%)",
    "effect_pct_ci_low": "95% CI, low (%)",
    "effect_pct_ci_high": "95% CI, high (%)",
    "estimate": "Coefficient",
    "std_error": "Standard error",
    "p_value": "p",
    "p_holm": "p, Holm-adjusted",
    "p_bh": "p, Benjamini–Hochberg",
    "std_beta": "Standardized β",
    "n": "Posts",
}


def _checklist(options: Sequence[str], description: str):
    """A box of check boxes with a ``value`` trait (the tuple of ticked options) and ``options``."""
    import ipywidgets as w
    import traitlets

    class CheckList(w.VBox):
        value = traitlets.Tuple()

        def __init__(self) -> None:
            self.options = tuple(options)
            self.boxes = [w.Checkbox(value=True, description=o, indent=False) for o in self.options]
            super().__init__([w.HTML(f"<b>{description}</b>"), *self.boxes])
            self.value = self.options
            for box in self.boxes:
                box.observe(self._from_boxes, names="value")

        _syncing = False

        def _from_boxes(self, _change) -> None:
            if self._syncing:
                return
            ticked = tuple(o for o, b in zip(self.options, self.boxes, strict=True) if b.value)
            if ticked != self.value:
                self.value = ticked

        @traitlets.observe("value")
        def _to_boxes(self, change) -> None:
            self._syncing = True
            try:
                for o, b in zip(self.options, self.boxes, strict=True):
                    if b.value != (o in change["new"]):
                        b.value = o in change["new"]
            finally:
                self._syncing = False

        def set_disabled(self, disabled: bool) -> None:
            for b in self.boxes:
                b.disabled = disabled

    return CheckList()


class ModelExplorer:
    """Widgets to refit the post-level models with another outcome, predictors, controls or model.

    Parameters
    ----------
    posts_coded : DataFrame
        The coded posts table (not modified).
    outcomes, predictors, controls : sequence of str
        The choices offered; the first outcome, every predictor and every control are selected at the start.
        Names that are not columns of ``posts_coded`` are an InputError.
    models : sequence of str
        The models offered (default all of ``workbench.models.MODELS``); the first is selected.

    Attributes
    ----------
    result : PostModels
        The current fit.
    table : DataFrame
        Its predictor rows (``TABLE_COLUMNS``) for the selected outcome and model; empty when that model
        cannot be fitted (see ``warnings``).
    warnings : list of str
        The fit's warnings.
    png : bytes
        The current forest plot as PNG (empty when there is nothing to plot).
    widget : ipywidgets.VBox
        The whole panel (a notebook displays the explorer itself as this).
    """

    def __init__(
        self,
        posts_coded: pd.DataFrame,
        *,
        outcomes: Sequence[str] = ("impressions", "engagements"),
        predictors: Sequence[str] = DEFAULT_PREDICTORS,
        controls: Sequence[str] = DEFAULT_CONTROLS,
        models: Sequence[str] = MODELS,
    ) -> None:
        import ipywidgets as w

        for role, names in (("outcome", outcomes), ("predictor", predictors), ("control", controls)):
            missing = [n for n in names if n not in posts_coded.columns]
            if missing:
                raise InputError(
                    f"ModelExplorer: {role}(s) {missing} are not columns of posts_coded. Columns starting with "
                    f"has_/n_: {[c for c in posts_coded.columns if c.startswith(('has_', 'n_'))]}"
                )
        unknown = [m for m in models if m not in MODELS]
        if unknown:
            raise InputError(f"ModelExplorer: unknown model(s) {unknown}; choose from {list(MODELS)}")
        if not outcomes or not models:
            raise InputError("ModelExplorer needs at least one outcome and one model")
        self._posts = posts_coded
        self._updating = False
        self.outcome_widget = w.Dropdown(options=list(outcomes), value=outcomes[0], description="Outcome")
        self.model_widget = w.Dropdown(options=list(models), value=models[0], description="Model")
        self.predictor_widget = _checklist(predictors, "Predictors")
        self.control_widget = _checklist(controls, "Controls")
        self.status = w.HTML()
        self.image = w.Image(format="png")
        self.table_html = w.HTML()
        self.message = w.HTML()
        for widget in (self.outcome_widget, self.model_widget, self.predictor_widget, self.control_widget):
            widget.observe(self._on_change, names="value")
        self.widget = w.VBox(
            [
                w.HBox(
                    [
                        w.VBox([self.outcome_widget, self.model_widget]),
                        self.predictor_widget,
                        self.control_widget,
                    ]
                ),
                self.status,
                self.message,
                self.image,
                self.table_html,
            ]
        )
        self.result: PostModels | None = None
        self.table = pd.DataFrame(columns=list(TABLE_COLUMNS))
        self.warnings: list[str] = []
        self.png = b""
        self.refit()

    # -- state ---------------------------------------------------------------------------------------

    @property
    def outcome(self) -> str:
        return self.outcome_widget.value

    @property
    def model(self) -> str:
        return self.model_widget.value

    @property
    def predictors(self) -> tuple[str, ...]:
        return tuple(self.predictor_widget.value)

    @property
    def controls(self) -> tuple[str, ...]:
        return tuple(self.control_widget.value)

    def select(
        self,
        *,
        outcome: str | None = None,
        model: str | None = None,
        predictors: Sequence[str] | None = None,
        controls: Sequence[str] | None = None,
    ) -> ModelExplorer:
        """Set any of the choices (as the widgets would) and refit once; return the explorer."""
        checks = (
            ("outcome", outcome, self.outcome_widget, False),
            ("model", model, self.model_widget, False),
            ("predictors", predictors, self.predictor_widget, True),
            ("controls", controls, self.control_widget, True),
        )
        for name, value, widget, multiple in checks:
            if value is None:
                continue
            offered = list(widget.options)
            bad = [v for v in (value if multiple else [value]) if v not in offered]
            if bad:
                raise InputError(f"ModelExplorer.select: {name} {bad} not offered; choose from {offered}")
        self._updating = True
        try:
            for _, value, widget, multiple in checks:
                if value is not None:
                    widget.value = tuple(value) if multiple else value
        finally:
            self._updating = False
        self.refit()
        return self

    def _on_change(self, _change) -> None:
        if not self._updating:
            self.refit()

    # -- fitting and drawing -------------------------------------------------------------------------

    def _busy(self, busy: bool) -> None:
        self.status.value = "<i>Refitting the model…</i>" if busy else ""
        for widget in (self.outcome_widget, self.model_widget):
            widget.disabled = busy
        for box in (self.predictor_widget, self.control_widget):
            box.set_disabled(busy)

    def refit(self) -> None:
        """Refit the selected model and update ``result``, ``table``, ``warnings``, the plot and the table."""
        self._busy(True)
        try:
            self._refit()
        finally:
            self._busy(False)

    @classmethod
    def for_dataset(cls, posts_coded: pd.DataFrame, ds, **kwargs) -> ModelExplorer:
        """An explorer offering the card's outcomes, predictors and controls that ``posts_coded`` has
        (``ds``: the loaded dataset card); the ones it lacks are named in ``warnings`` on every refit."""
        a = ds.analysis
        have = set(posts_coded.columns)
        picks = {role: [n for n in names if n in have] for role, names in
                 (("outcomes", a.outcomes), ("predictors", a.predictors), ("controls", a.controls))}
        lacking = [n for names in (a.outcomes, a.predictors, a.controls) for n in names if n not in have]
        explorer = cls(posts_coded, **picks, **kwargs)
        if lacking:
            explorer.lacking = lacking
            explorer.refit()
        return explorer

    lacking: list[str] = []

    def _refit(self) -> None:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore", ModelWarning)
            if not self.predictors:
                self.result = None
                self.warnings = ["Choose at least one predictor."]
                self.table = pd.DataFrame(columns=list(TABLE_COLUMNS))
            else:
                self.result = fit_post_models(
                    self._posts,
                    outcomes=(self.outcome,),
                    predictors=self.predictors,
                    controls=self.controls,
                    models=(self.model,),
                )
                self.warnings = list(self.result.warnings)
                t = self.result.table
                rows = t[(t["model"] == self.model) & (t["term_type"] == "predictor")]
                self.table = rows[list(TABLE_COLUMNS)].reset_index(drop=True)
        if self.table.empty and self.result is not None and not self.warnings:
            if self.model == "negbin_rate" and self.outcome == "impressions":
                self.warnings = ["negbin_rate models engagements per impression; choose another outcome."]
            else:
                self.warnings = [f"No {self.model} estimates for {self.outcome}."]
        if self.lacking:
            self.warnings.append(f"Not offered because the data has no such column: {', '.join(self.lacking)}.")
        self.png = self._draw()
        self._render()

    def _draw(self) -> bytes:
        if self.table.empty:
            return b""
        from .plots import figure_png, new_figure, plot_forest

        fig, axes = new_figure((6.5, 0.45 * len(self.table) + 1.5), dpi=90)
        ax = axes[0, 0]
        plot_forest(self.result.table, outcome=self.outcome, model=self.model, ax=ax)
        if self.model == "ols_std":
            ax.set_xlabel(f"standardized β as exp(β) − 1 (published form; not a % change in {self.outcome})")
        elif self.model == "negbin_rate":
            ax.set_xlabel(f"% change in {self.outcome} per impression (engagement rate, 95% CI)")
        return figure_png(fig, pad=1.08)  # laid out and drawn once

    def _render(self) -> None:
        import html

        self.image.value = self.png
        self.image.layout.display = None if self.png else "none"
        self.message.value = "".join(f"<p>⚠ {html.escape(m)}</p>" for m in self.warnings)
        shown = self.table.rename(columns=TABLE_HEADERS)
        self.table_html.value = shown.to_html(index=False, float_format=lambda x: f"{x:.3g}", na_rep="")

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a notebook front end
        from IPython.display import display

        display(self.widget)

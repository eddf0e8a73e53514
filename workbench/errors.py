"""Errors the workbench raises for bad input: they name the file, row, column and what was expected."""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""


class InputError(WorkbenchError, ValueError):
    """Input that cannot be used: a file, a row, a column or a setting.

    The message always says where (file, row, column or key), what was found and what was expected.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        where = []
        if self.file is not None:
            where.append(self.file)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DatasetCardError(InputError):
    """An invalid dataset card (dataset.yml)."""


class UnknownFormatError(InputError):
    """A file whose header matches none of the export formats we know."""


class StageError(WorkbenchError):
    """A pipeline stage failed; names the stage, the cell and the error.

    ``stage``, ``cell`` (1-based position in the notebook), ``notebook`` and ``error`` (the exception's type and
    message) are kept as attributes for the run status record, when known.
    """

    def __init__(self, message: str, *, stage: str | None = None, cell: int | None = None,
                 notebook: str | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.cell = cell
        self.notebook = notebook
        self.error = error

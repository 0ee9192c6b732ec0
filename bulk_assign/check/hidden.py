"""Rows and columns hidden in Excel are a decision, not an accident.

An analyst who filters a sheet down to their 40 rows (or hides rows by hand) expects 40 rows
sent, not the 4,000 behind the filter. So `run` refuses a sheet with hidden data rows, or with
a hidden column that a required field is read from, until told what to do: `send` them too, or
`skip` them (they stay in the results, SKIPPED with error_class HiddenRow). CSV files have
nothing hidden, so nothing changes for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from bulk_assign.check.validator import Validation, validate
from bulk_assign.errors import UsageError
from bulk_assign.results import HIDDEN_ROW, Status
from bulk_assign.sheet.table import InputTable

SEND: Final = "send"
SKIP: Final = "skip"
CHOICES: Final = (SEND, SKIP)
SKIPPED_MESSAGE: Final = "hidden in Excel (filtered out or hidden by hand): not sent"
_SHOWN = 5  # row numbers named in a message; the summary.json lists more


def rows_text(rows: Sequence[int], *, shown: int = _SHOWN) -> str:
    """`rows 4, 7, 9 and 3,955 more`.

    >>> rows_text([4, 7, 9, 12, 15, 20, 21])
    'rows 4, 7, 9, 12, 15 and 2 more'
    """
    listed = ", ".join(str(r) for r in rows[:shown])
    more = f" and {len(rows) - shown:,} more" if len(rows) > shown else ""
    return f"row{'s' if len(rows) > 1 else ''} {listed}{more}"


def facts(table: InputTable) -> dict[str, Any]:
    """What summary.json says about hidden rows and columns and uncalculated formulas."""
    return {
        "hidden_rows": {"count": len(table.hidden_rows), "first": list(table.hidden_rows[:20])},
        "hidden_columns": dict(table.hidden_columns),
        "formula_without_value": sum(len(rows) for rows in table.uncalculated.values()),
    }


def notes(table: InputTable, *, choice: str | None) -> list[str]:
    """Lines for `validate` and the plan: how many rows are hidden, which, and what happens.

    `choice` is the run's --hidden-rows; `validate` passes None.
    """
    lines = []
    hidden = table.hidden_rows
    if hidden:
        what = {
            None: "`run` sends nothing until told --hidden-rows skip (only the visible rows) "
                  "or --hidden-rows send (them too)",
            SKIP: "they are not sent (--hidden-rows skip): SKIPPED / HiddenRow in the results",
            SEND: "they are sent too (--hidden-rows send)",
        }[choice]
        lines.append(
            f"Hidden rows: {len(hidden):,} of {len(table.frame):,} data rows are hidden in Excel "
            f"(filtered out or hidden by hand): {rows_text(hidden)}; {what}."
        )
    for name, column in table.hidden_columns.items():
        lines.append(f"Hidden column: {name} is read from column {column}, hidden in Excel"
                     + ("; it is used as it is (--hidden-rows send)." if choice == SEND else "."))
    return lines


def check(table: InputTable, *, choice: str | None) -> None:
    """Refuse (UsageError: exit 2, nothing sent) what the analyst may not have meant to send."""
    where = f"{table.path}: sheet {table.sheet!r}"
    if table.hidden_columns and choice != SEND:
        columns = "; ".join(f"{name} in column {col}" for name, col in table.hidden_columns.items())
        if choice == SKIP:
            lead = ("--hidden-rows skip leaves hidden rows out, but a required column cannot be "
                    f"left out: {where} hides {columns}")
        else:
            lead = f"{where} hides the column(s) {columns}"
        raise UsageError(
            f"{lead}. Unhide the column(s) in Excel (select the columns on both sides, "
            "right-click > Unhide) and save, or pass --hidden-rows send to use them as they "
            "are. Nothing was sent."
        )
    if table.hidden_rows and choice is None:
        raise UsageError(
            f"{where} has {len(table.hidden_rows):,} hidden row(s) ({rows_text(table.hidden_rows)}"
            ": filtered out or hidden by hand) that Excel does not show. Pass --hidden-rows skip "
            "to send only the visible rows, or --hidden-rows send to send them too. Nothing was "
            "sent."
        )


def validate_for_run(
    table: InputTable, *, choice: str | None, catalog: str | None,
    allow_other_titles: bool = False,
) -> Validation:
    """`validate`, except that with `skip` the hidden rows are left out before any check.

    Left out first, so that a visible row is never a DUPLICATE of (or in conflict with) a
    hidden row that is not sent; they come back SKIPPED / HiddenRow, in their place.
    """
    if choice != SKIP or not table.hidden_rows:
        return validate(table, catalog=catalog, allow_other_titles=allow_other_titles)
    everything = table.frame.index
    visible = replace(table, frame=table.frame.drop(index=list(table.hidden_rows)))
    checked = validate(visible, catalog=catalog, allow_other_titles=allow_other_titles)

    def back(series: Any, fill: str) -> Any:
        return series.reindex(everything, fill_value=fill)

    return Validation(
        table=table,
        values=checked.values.reindex(everything, fill_value=""),
        status=back(checked.status, Status.SKIPPED.value),
        error_class=back(checked.error_class, HIDDEN_ROW),
        error_message=back(checked.error_message, SKIPPED_MESSAGE),
    )


def visible_ids(table: InputTable, *, choice: str | None) -> InputTable:
    """An `--ids` sheet under `run`'s rule: hidden rows (or a hidden Identifier column) refuse
    the command unless `choice` is skip (those rows' ids are left out) or send (used too)."""
    where = f"--ids {table.path}: sheet {table.sheet!r}"
    if table.hidden_columns and choice != SEND:
        columns = "; ".join(f"{name} in column {col}" for name, col in table.hidden_columns.items())
        raise UsageError(f"{where} hides the column(s) {columns}; unhide it in Excel and save, "
                         "or pass --hidden-rows send to use it as it is; nothing was read.")
    if not table.hidden_rows or choice == SEND:
        return table
    if choice == SKIP:
        return replace(table, frame=table.frame.drop(index=list(table.hidden_rows)))
    raise UsageError(
        f"{where} has {len(table.hidden_rows):,} hidden row(s) ({rows_text(table.hidden_rows)}: "
        "filtered out or hidden by hand); pass --hidden-rows skip to leave their ids out, or "
        "--hidden-rows send to use them too; nothing was read."
    )

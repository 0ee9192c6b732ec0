"""What a spreadsheet cell may start with: the one home for formula escaping.

Excel, LibreOffice and their kin run a cell that starts with `=`, `+`, `-` or `@` as a formula
(tab, CR and LF starts are the DDE variants of the same trick). The CSVs we write prefix such a
cell with `'`, which every spreadsheet shows as text; reading our own files back (an analyst
feeds failed.csv to `run`) takes that `'` off again. The workbook needs no escape at all: its
cells are typed as text (see `workbook.py`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

#: A cell starting with one of these is a formula (or a DDE payload) to Excel and its kin.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
#: What the CSVs put in front of such a cell.
ESCAPE: Final = "'"


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet would run `text` rather than show it.

    >>> is_formula_like("+1 555 0100"), is_formula_like("O1234")
    (True, False)
    """
    return text.startswith(FORMULA_TRIGGERS)


def escape(text: str) -> str:
    """`text` made safe for a CSV cell.

    >>> escape("=HYPERLINK(1)"), escape("ok")
    ("'=HYPERLINK(1)", 'ok')
    """
    return ESCAPE + text if text.startswith(FORMULA_TRIGGERS) else text


def is_escaped(text: str) -> bool:
    """True when `text` carries our own escape: `'` followed by a formula trigger.

    A `'` before anything else is the analyst's own text and stays.

    >>> is_escaped("'+1555"), is_escaped("'quoted'")
    (True, False)
    """
    return text[:1] == ESCAPE and text[1:2] in FORMULA_TRIGGERS


def unescape(text: str) -> str:
    """Undo `escape`: the value as it was before we wrote it.

    >>> unescape("'=1+1"), unescape("'tis"), unescape(escape("\\n"))
    ('=1+1', "'tis", '\\n')
    """
    return text[1:] if is_escaped(text) else text


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix `'` to every text cell that Excel would run as a formula.

    One pass over all cells at once: column by column, a sheet with thousands of columns
    took seconds per file.

    >>> escape_formulas(pd.DataFrame({"a": ["=1+1", "ok", "+1555", "\\tx"]}))["a"].tolist()
    ["'=1+1", 'ok', "'+1555", "'\\tx"]
    """
    cells = frame.to_numpy(dtype=object)
    flat = cells.ravel()
    risky = np.fromiter(
        (isinstance(c, str) and c.startswith(FORMULA_TRIGGERS) for c in flat),
        dtype=bool, count=len(flat),
    )
    if risky.any():
        flat = flat.copy()
        flat[risky] = [ESCAPE + c for c in flat[risky]]
        cells = flat.reshape(cells.shape)
    return pd.DataFrame(cells, index=frame.index, columns=frame.columns, dtype=object)


def escape_header(name: object) -> str:
    """A header is a cell too: `=cmd()` as a column name must not run either."""
    return escape(str(name))

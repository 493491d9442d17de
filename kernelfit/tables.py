"""Tables for people: aligned text for the terminal, Markdown for reports. No numerics here."""

from __future__ import annotations

__all__ = ["format_table", "markdown_table"]


def format_table(rows, headers=None) -> str:
    """Format ``rows`` (sequences of cells) as an aligned text table."""
    rows = [[str(c) for c in row] for row in rows]
    if headers:
        rows = [list(map(str, headers)), *rows]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]
    if headers:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(headers, rows) -> str:
    """A GitHub-flavoured Markdown table; numbers are right-aligned.

    Parameters
    ----------
    headers : sequence of str
    rows : sequence of sequences
        Cells, already formatted as strings or numbers.
    """
    rows = [[str(cell) for cell in row] for row in rows]
    numeric = [all(_is_number(r[i]) for r in rows) if rows else False for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("%"))
    except ValueError:
        return False
    return True

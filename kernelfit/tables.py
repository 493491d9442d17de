"""Plain-text tables for the terminal (no numerics here)."""

from __future__ import annotations

__all__ = ["format_table"]


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

"""The validation scripts' docs tables: reStructuredText simple tables."""

from __future__ import annotations


def rst_table(header: list[str], rows: list[list[str]]) -> str:
    """A simple table, each column as wide as its widest cell."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = " ".join("=" * w for w in widths)

    def line(cells):
        return " ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([rule, line(header), rule, *map(line, rows), rule]) + "\n"

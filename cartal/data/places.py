"""Where a person finds a row of their data: its line in the file, or its row counting from 1.

A frame numbers its rows from 0, which nobody opening the file sees. An error about rows names
them the way the file's reader finds them: by line in a CSV, TSV or JSON Lines file (a CSV's
header is line 1, and a text holding a line break spans several lines), by row counting from 1
in a Parquet table or a hub split, where there are no lines.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cartal.errors import listing


@dataclass(frozen=True)
class Places:
    """The number a person finds each row of a frame under, by the frame's 0-based position."""

    unit: str  # "line" or "row"
    first: str  # what counts as number 1, said in the message
    numbers: Sequence[int]

    def of(self, rows: Iterable[int]) -> str:
        """``rows`` (positions in the frame) as a person finds them: "lines 3, 5"."""
        numbers = [self.numbers[r] for r in rows]
        return f"{self.unit}{'s' if len(numbers) > 1 else ''} {listing(numbers)}"

    def at(self, rows: Iterable[int], ids: Iterable[str] = ()) -> str:
        """``rows``, how they are counted and their ids: "lines 3, 5 (header = line 1; ids r-1, r-3)"."""
        ids = list(ids)
        named = f"; {'ids' if len(ids) > 1 else 'id'} {listing(ids)}" if ids else ""
        return f"{self.of(rows)} ({self.first}{named})"


def counted(size: int, first: str = "first row = row 1") -> Places:
    """Rows counting from 1: a table without lines (Parquet, a hub split)."""
    return Places("row", first, range(1, size + 1))


def jsonl_lines(lines: Sequence[int]) -> Places:
    """The lines of a JSON Lines file the records were read from (blank lines hold none)."""
    return Places("line", "first line = line 1", lines)


def csv_lines(path: Path, sep: str, size: int) -> Places:
    """The line each of the ``size`` records of a CSV file read by pandas starts on; the header is line 1.

    The csv module counts the lines a record spans (a quoted text with line breaks). pandas skips
    blank lines, and so does this, taking a record of one blank field for one; a file where the two
    still disagree (a quoted empty line, which pandas keeps) is counted by rows after the header.
    """
    starts, end = [], 0
    with path.open(newline="", encoding="utf-8-sig") as lines:
        reader = csv.reader(lines, delimiter=sep)
        for record in reader:
            if len(record) > 1 or (record and record[0].strip()):
                starts.append(end + 1)
            end = reader.line_num
    if len(starts) - 1 != size:
        return counted(size, "first row after the header = row 1")
    return Places("line", "header = line 1", starts[1:])

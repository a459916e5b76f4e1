"""Character error rate: how many characters a reader got wrong, per character of the truth.

A reader returns lines with boxes, in no fixed order; the truth is lines in reading order. Both
are joined into one text (the reader's lines put in the order the captioner quotes them in:
top to bottom, then left to right) with runs of white space made single spaces, and the edit
distance between the two texts (insertions, deletions, substitutions: Levenshtein) is divided by
the length of the truth. Missed lines and garbled lines count alike; 0 is perfect, and a reader
that invents text can pass 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

# Lines whose tops differ by less than this share of the picture's height are one row, read
# left to right (the captioner's own order: compose/text.py sorts on the top rounded to 0.01).
ROW = 2


def joined(lines: Sequence[str]) -> str:
    """Lines as one text, white space normalised."""
    return " ".join(" ".join(lines).split())


def in_reading_order(lines: Sequence[tuple[str, tuple[float, float, float, float]]]) -> list[str]:
    """The texts of ``(text, (left, top, right, bottom) in fractions)`` in reading order."""
    ordered = sorted(lines, key=lambda line: (round(line[1][1], ROW), line[1][0]))
    return [text for text, _ in ordered]


def cer(truth: Sequence[str], read: Sequence[str]) -> float:
    """The character error rate of ``read`` against ``truth`` (both lines in reading order)."""
    expected, found = joined(truth), joined(read)
    if not expected:
        return 0.0 if not found else 1.0
    return Levenshtein.distance(expected, found) / len(expected)

"""Row ids as users type them: a number outside the database's integer range names no row."""
from __future__ import annotations

ID_LIMIT = 2**63  # SQLite's INTEGER range; a larger Python int would overflow the driver, not miss


def could_be_id(value: int) -> bool:
    return 0 < value < ID_LIMIT


def parse_id(text: str) -> int | None:
    """The id a string spells in ASCII digits, or None ("²" and "٣" are digits to str.isdigit, not ids)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if could_be_id(value) else None

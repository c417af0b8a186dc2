"""RFC 5545 iCalendar output for calendar occurrences (no dependencies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.cadence.calendar import Occurrence


def _esc(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def _fold(line: str) -> list[str]:
    """Fold lines longer than 75 octets (RFC 5545 3.1)."""
    out, cur = [], ""
    for ch in line:
        if len((cur + ch).encode()) > 75:
            out.append(cur)
            cur = " " + ch
        else:
            cur += ch
    return out + [cur]


def to_ics(occ: list[Occurrence], labels: dict[str, str], stamp: datetime) -> str:
    """VCALENDAR with one VEVENT per occurrence; times in UTC; CRLF line endings."""
    fmt = "%Y%m%dT%H%M%SZ"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//relbot//release calendar//EN",
             "CALSCALE:GREGORIAN"]
    for o in occ:
        start = o.when.astimezone(UTC)
        lines += ["BEGIN:VEVENT", f"UID:{o.key.replace(':', '-')}@relbot",
                  f"DTSTAMP:{stamp.astimezone(UTC).strftime(fmt)}",
                  f"DTSTART:{start.strftime(fmt)}",
                  f"DTEND:{(start + timedelta(minutes=30)).strftime(fmt)}",
                  f"SUMMARY:{_esc(labels.get(o.key, o.name))}"]
        if o.text:
            lines.append(f"DESCRIPTION:{_esc(o.text)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(f"{part}\r\n" for ln in lines for part in _fold(ln))

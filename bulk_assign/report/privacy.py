"""Keep personal data out of logs and messages: rows are named by number and Identifier."""

from __future__ import annotations

import re
from typing import Final

from bulk_assign.results import Contact

_EMAIL: Final = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+")
_PHONE: Final = re.compile(r"\+\d[\d ().\-]{6,}\d")


def scrub(text: str, contact: Contact | None = None) -> str:
    """Remove emails, phone numbers and the row's own names from a service message.

    Emails and phones go first (a name inside an address must not leave its domain behind);
    names only as whole words, so "Al" does not cut "ValidationException" apart.

    >>> scrub("User ana@x.com (+1 555 010 0199) is not registered")
    'User <email> (<phone>) is not registered'
    """
    if contact is not None:
        for value, label in ((contact.email, "<email>"), (contact.phone, "<phone>")):
            if len(value) >= 2:
                text = re.sub(re.escape(value), label, text, flags=re.IGNORECASE)
    text = _EMAIL.sub("<email>", text)
    text = _PHONE.sub("<phone>", text)
    if contact is not None:
        for value in (contact.first_name, contact.last_name):
            if len(value) >= 2:
                text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "<name>", text,
                              flags=re.IGNORECASE)
    return text

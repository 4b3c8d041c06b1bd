"""Presidio recognizers for the personal data found in case notes, a folder per country.

``bg`` holds the Bulgarian identifiers and addresses, ``ru`` the Russian ones, ``common`` what both
languages share (phone numbers, e-mail addresses, IBANs, dates of birth). Each module has one small
class: its ``PATTERNS`` and ``CONTEXT`` constants, and a ``validate_result`` that delegates the
checksum to ``anonymise.identifiers`` or python-stdnum.

A checksum that holds returns ``None`` from ``validate_result`` rather than ``True``: Presidio would
raise a validated match to the maximum score, and then context words («ЛНЧ» before a number that is
also a valid ЕГН) could no longer decide between two identifiers.
"""

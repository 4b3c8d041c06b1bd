"""Recognizers for Russian identifiers and addresses."""

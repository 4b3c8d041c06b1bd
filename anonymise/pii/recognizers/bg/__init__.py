"""Recognizers for Bulgarian identifiers and addresses."""

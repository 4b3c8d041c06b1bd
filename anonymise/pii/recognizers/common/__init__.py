"""Recognizers shared by the Bulgarian and Russian analyzers."""

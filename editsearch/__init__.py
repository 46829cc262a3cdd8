"""editsearch: a search engine for image edits."""

__version__ = "0.1.0"

"""`editsearch serve`: a JSON search API and a web page over one index (FastAPI on uvicorn)."""

from editsearch.serve.app import create_app

__all__ = ["create_app"]

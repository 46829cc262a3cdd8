"""The server's routers, one per area: search, edits and their images, apply, the server itself, the page."""

"""Images and where they are: loading that never crashes on bad input, and image locators."""

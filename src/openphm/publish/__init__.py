"""Publish: the disclosure gate applied, and the only writer to published/."""

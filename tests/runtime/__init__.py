"""Runtime tests: the session engine through real clients against the fault server."""

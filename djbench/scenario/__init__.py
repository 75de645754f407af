"""The scenario of a project's run besides the polls one: the pages of a URLS file (given or
discovered from the running site), their check before load, and a Locust file's own invariant."""

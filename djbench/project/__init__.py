"""The Django project under test: the built-in polls project or a user's own, each in a Python
environment of its own, with the settings, entry points and data the benchmark owns."""

"""The one exception the analysis package raises for bad input."""


class AnalysisError(Exception):
    """A results directory or report request that cannot be used.

    The message is a single line meant to be printed as is by a CLI.
    """

"""The one exception the analysis package raises for bad input."""

from contextlib import contextmanager

from djbench.contracts.documents import DocumentError


class AnalysisError(Exception):
    """A results directory or report request that cannot be used.

    The message is a single line meant to be printed as is by a CLI.
    """


@contextmanager
def document_errors():
    """Around the analysis's calls of the contracts' document loaders: their refusal (a
    DocumentError, since contracts may not import the analysis) raised as the analysis's one
    error, with the same line."""
    try:
        yield
    except DocumentError as exc:
        raise AnalysisError(str(exc)) from None

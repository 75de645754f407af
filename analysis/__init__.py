"""Analysis of results directories: per-step metrics, the article-format table, charts, reports.

Kept import-light on purpose: the harness imports `analysis.metrics` at the end of every run and
should not pay for matplotlib or Jinja2 there.
"""

from djbench.analysis.errors import AnalysisError

__all__ = ["AnalysisError"]

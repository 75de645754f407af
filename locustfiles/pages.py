"""A GET scenario: the pages of a URLS file (djbench/contracts/urls.py), each requested as
often as its weight says, a wait between requests as in vote.py.

Loaded in place of vote.py (`-f pages.py,step_load.py,request_log.py,distributed.py`), never
beside it: it imports vote.py for the user behaviour every scenario shares and the options that
set it (--wait / WAIT_TIME, --pacing / PACING, --client-timeout / CLIENT_TIMEOUT, USER_CLASS),
so they are defined once. Each iteration is one GET, named by its path so Locust's stats and
the request log group by page, numbered in the request log's iteration column.

Environment:
  DJBENCH_URLS  the URLS file
"""

import os
import random
import time

# Locust imports each file it is given as a top-level module, from its directory: vote.py is
# found beside this file, and its option listener registers once whichever file imports it.
import vote
from locust import task

from djbench.contracts import urls


def _pages():
    path = os.environ.get(urls.URLS_ENV, "")
    if not path:
        raise SystemExit(f"pages.py: set {urls.URLS_ENV} to a URLS file")
    try:
        with open(path) as f:
            pages = urls.parse(f.read())
    except (OSError, ValueError) as e:
        raise SystemExit(f"pages.py: {path}: {e}") from None
    return [p for p, _ in pages], [w for _, w in pages]


PATHS, WEIGHTS = _pages()


class PageReader(vote.BenchUser):
    @task
    def read(self):
        self.iteration_started = time.monotonic()
        (path,) = random.choices(PATHS, weights=WEIGHTS)
        self.client.get(path, name=path, context={"iteration": next(vote.ITERATIONS)})

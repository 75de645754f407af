"""Where the product's pieces live: beside the package in a checkout, inside it once installed.

A checkout keeps the names users know at its top (docker-compose.yml, polls_project/,
locustfiles/, nginx/, analysis/); the wheel carries the same files inside the djbench package
(setup.py), so an installed djbench runs from any directory."""

import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE if (PACKAGE / "docker-compose.yml").exists() else PACKAGE.parent
IMPORT_ROOT = PACKAGE.parent  # on PYTHONPATH, `import djbench` finds this package
DJANGO_DIR = ROOT / "polls_project"
# request_log.py before distributed.py, which uses it.
LOCUSTFILE_NAMES = ("vote.py", "step_load.py", "request_log.py", "distributed.py")
LOCUSTFILES = [ROOT / "locustfiles" / n for n in LOCUSTFILE_NAMES]
NGINX_TEMPLATE = ROOT / "nginx" / "nginx.conf.template"
# What the app image is built from (docker-compose.yml's build context), beside the compose file.
IMAGE_FILES = ("Dockerfile", ".dockerignore", "constraints.txt")
# The top-level folders of the product besides the package's own code.
PRODUCT_DIRS = ("analysis", "locustfiles", "polls_project", "nginx")
# What makes two hosts run the same benchmark: compared between a controller and its workers.
PROJECT_SOURCES = {"djbench": PACKAGE, "locustfiles": ROOT / "locustfiles",
                   "polls_project": DJANGO_DIR, "nginx": ROOT / "nginx"}  # fmt: skip
# The virtualenv's commands (servers, Locust) beside the Python that runs djbench.
BIN = Path(sys.executable).parent

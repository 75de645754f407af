"""Where the project's pieces live, relative to the checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DJANGO_DIR = ROOT / "polls_project"
# request_log.py before distributed.py, which uses it.
LOCUSTFILE_NAMES = ("vote.py", "step_load.py", "request_log.py", "distributed.py")
LOCUSTFILES = [ROOT / "locustfiles" / n for n in LOCUSTFILE_NAMES]
# What makes two hosts run the same benchmark: compared between a controller and its workers.
PROJECT_SOURCES = ("djbench", "locustfiles", "polls_project", "nginx")
NGINX_TEMPLATE = ROOT / "nginx" / "nginx.conf.template"

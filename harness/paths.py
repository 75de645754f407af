"""Where the project's pieces live, relative to the checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DJANGO_DIR = ROOT / "polls_project"
LOCUSTFILES = [ROOT / "locustfiles" / n for n in ("vote.py", "step_load.py", "request_log.py")]
NGINX_TEMPLATE = ROOT / "nginx" / "nginx.conf.template"

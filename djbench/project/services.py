"""Services a project may need that djbench does not start: named from the error they cause, so
that a run that fails for want of one says which, and how to point the project at one."""

import re

# (what, a pattern of the errors its absence causes, where it listens by default)
SERVICES = (
    ("Redis", re.compile(r"redis|:6379\b|port 6379", re.I), "REDIS_URL"),
    ("Memcached", re.compile(r"memcache|:11211\b", re.I), "the CACHES setting"),
    ("Elasticsearch", re.compile(r"elasticsearch|:9200\b", re.I), "the search backend's URL"),
    ("RabbitMQ", re.compile(r"amqp|rabbitmq|:5672\b", re.I), "the broker URL (CELERY_BROKER_URL)"),
)
REFUSED = re.compile(r"connection refused|errno 111|could not connect|name or service not known",
                     re.I)  # fmt: skip


def hint(text: str) -> str:
    """'' or one sentence: which service the failure in `text` points to, and what to do."""
    if not REFUSED.search(text):
        return ""
    for name, pattern, setting in SERVICES:
        if pattern.search(text):
            return (
                f"the project needs {name}, which djbench does not start: run one and point the "
                f"project at it ({setting}; settings of your own with --settings)"
            )
    return ""

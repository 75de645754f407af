"""The files a run's Locust side writes and the analysis reads: names and columns.

Columns are only ever appended: a reader requires the columns it needs by name, so a log
written before a column existed still reads (see the *_REQUIRED lists).
"""

# Locust's own CSVs (--csv <dir>/locust): locust_stats.csv, locust_stats_history.csv, ...
LOCUST_CSV_PREFIX = "locust"
LOCUST_HISTORY = f"{LOCUST_CSV_PREFIX}_stats_history.csv"
LOCUST_STATS = f"{LOCUST_CSV_PREFIX}_stats.csv"
HISTORY_COLUMNS = ["Timestamp", "Name", "Total Request Count", "Total Failure Count"]

# One row per request, one file per Locust process that runs users: requests-<host>-<pid>.csv.
#   ts                epoch s at completion
#   name              the route: index, detail, vote, results
#   method            GET, POST
#   status            HTTP status, 0 = no response
#   ok                1 succeeded, 0 failed
#   cause             the failure's label (http_500, timeout, connection, ...), empty when ok
#   response_time_ms  as Locust measured it
#   iteration         which user iteration (one vote attempt: detail, vote, results) the
#                     request belongs to, numbered per process from 1; 0 = outside any
#                     iteration (the index page a user loads on start)
REQUEST_LOG_PREFIX = "requests"
REQUEST_COLUMNS = [
    "ts", "name", "method", "status", "ok", "cause", "response_time_ms", "iteration",
]  # fmt: skip
REQUEST_COLUMNS_REQUIRED = REQUEST_COLUMNS[:7]  # logs written before `iteration` existed
NO_ITERATION = 0

# Event-loop lag of each Locust process, ten samples a second: loop-lag-<host>-<pid>.csv.
LAG_LOG_PREFIX = "loop-lag"
LAG_COLUMNS = ["ts", "lag_ms"]
LAG_INTERVAL_S = 0.1  # the sleep whose lateness a sample measures

# CPU (% of one core) and memory, once a second: resources.csv (the harness samples the
# stack's components), per Locust worker resources-<host>-<pid>.csv (what the worker reported
# of itself) and, in distributed runs, resources-stack-<address>.csv (the stack host's). `host`
# names the host the component ran on.
RESOURCE_LOG_PREFIX = "resources"
RESOURCES = f"{RESOURCE_LOG_PREFIX}.csv"
RESOURCE_COLUMNS = ["ts", "component", "cpu_pct", "rss_mb", "host"]

# The whole machine once a second (djbench/sampling/system.py): CPU shares of all CPUs together,
# as top shows them, and memory.
SYSTEM = "system.csv"
SYSTEM_COLUMNS = ["ts", "cpus", "user_pct", "system_pct", "iowait_pct", "steal_pct", "idle_pct",
                  "mem_used_mb", "mem_available_mb"]  # fmt: skip

# PostgreSQL's client connections once a second, from pg_stat_activity (native mode), by
# state, and `sessions`: pg_stat_database's count of sessions ever opened (PostgreSQL 14+),
# whose growth is the connections opened per second. Older runs lack the last three columns.
PG_ACTIVITY = "pg_activity.csv"
PG_ACTIVITY_COLUMNS = ["ts", "active", "total", "max_connections"]
PG_STATE_COLUMNS = ["idle", "idle_in_transaction", "sessions"]

# The app server's processes once a second (djbench/sampling/server_processes.py): threads of
# each, and for those running the app (`serving` 1) the requests inside Django now and their
# mean since the process's previous row (djbench/project/djbench_inflight.py; empty without it).
SERVER_PROCESSES = "server_processes.csv"
SERVER_PROCESS_COLUMNS = ["ts", "pid", "serving", "threads", "inflight", "inflight_mean"]

# Locust workers as the master saw them (distributed runs): workers.csv, one row per event
# (joined, refused, lost, back), and workers.json, each worker's hello and clock offset.
WORKER_EVENTS = "workers.csv"
WORKER_EVENT_COLUMNS = ["ts", "worker", "event", "detail"]
WORKERS_JSON = "workers.json"

# The step load's measured windows (epoch s): the window of a step is [measure_from, end).
# target_iter_s: the open model's arrival rate (users / pacing), empty for the closed loop.
TIMELINE = "timeline.csv"
TIMELINE_COLUMNS = ["step", "users", "start", "measure_from", "end", "complete", "target_iter_s"]
TIMELINE_COLUMNS_REQUIRED = TIMELINE_COLUMNS[:6]  # timelines written before the open model


def process_log_name(prefix: str, host: str, pid: int) -> str:
    """'requests-vm-1234.csv': host and pid keep worker processes (and containers) apart."""
    return f"{prefix}-{host}-{pid}.csv"


def process_log_glob(prefix: str) -> str:
    """Every process's file of one log ('requests*.csv')."""
    return f"{prefix}*.csv"

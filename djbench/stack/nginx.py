"""nginx in front of the app server, configured from nginx/nginx.conf.template (the same
template compose mode uses)."""

import os
import re
import shutil
import subprocess

from djbench.errors import UserError
from djbench.paths import NGINX_TEMPLATE
from djbench.system.packages import install_hint

# Recorded in meta.json; worker_connections covers 700 keep-alive users twice over (each proxied
# request holds a client and an upstream connection).
SETTINGS = {
    "NGINX_WORKER_PROCESSES": "1",
    "NGINX_WORKER_CONNECTIONS": "4096",
    "NGINX_WORKER_RLIMIT_NOFILE": "8192",
    "NGINX_UPSTREAM_KEEPALIVE": "32",
}


FILE_LOCATIONS = "        # djbench: static and media locations\n"
CLIENTS = "        # djbench: clients allowed\n"


def render(values, template=NGINX_TEMPLATE, files=None, clients=()):
    """Substitute ${NAME} placeholders (as envsubst does); fail on any left unset. files: URL
    prefix -> directory, served by nginx itself as a production deployment does. clients: the
    only addresses it answers (a stack host's load hosts and controller); () = any."""
    text = template.read_text()
    missing = sorted(set(re.findall(r"\$\{([A-Z0-9_]+)\}", text)) - set(values))
    if missing:
        raise ValueError(f"nginx template needs values for: {', '.join(missing)}")
    text = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: str(values[m.group(1)]), text)
    allowed = "".join(f"        allow {a};\n" for a in clients)
    allowed += "        deny all;\n" if clients else ""
    return text.replace(FILE_LOCATIONS, file_locations(files or {})).replace(CLIENTS, allowed)


def file_locations(files):
    """One location a prefix: ^~ so that no other location takes a file's request."""
    return "".join(
        f'        location ^~ {prefix} {{\n            alias "{directory}/";\n'
        "            expires 1h;\n        }\n"
        for prefix, directory in files.items()
    )


def find_binary():
    """$DJBENCH_NGINX, else PATH, else /usr/sbin (not on a normal user's PATH on Debian)."""
    explicit = os.environ.get("DJBENCH_NGINX")
    for candidate in [explicit] if explicit else [shutil.which("nginx"), "/usr/sbin/nginx"]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise UserError(f"nginx was not found; install it: {install_hint('nginx')}")


def version(binary):
    out = subprocess.run([binary, "-v"], capture_output=True, text=True)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def start(procs, binary, conf_path, error_log, cpus=None):
    # -e: the error log from the first moment, before the config is read; daemon off keeps the
    # master as our child so it can be stopped with the run. cwd: nginx overwrites its
    # environment with its process titles, so its workers lose the run's tag; the working
    # directory they inherit (the run's temp dir, beside the config) still names the run.
    return procs.start(
        "nginx",
        [binary, "-e", str(error_log), "-c", str(conf_path), "-g", "daemon off;"],
        error_log.with_name("nginx.out.log"),
        cpus=cpus,
        cwd=conf_path.parent,
    )

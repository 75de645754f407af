"""The nginx config the template renders is valid where a run's paths hold spaces (a results
directory such as "my results")."""

import subprocess

import pytest

from djbench.errors import UserError
from djbench.stack import nginx


def _checked(where, **render):
    try:
        binary = nginx.find_binary()
    except UserError:
        pytest.skip("nginx is not installed")
    (where / "nginx").mkdir(parents=True)
    conf = where / "nginx.conf"
    conf.write_text(nginx.render({
        **nginx.SETTINGS, "NGINX_PID_PATH": where / "nginx.pid",
        "NGINX_ERROR_LOG": where / "nginx.error.log", "NGINX_TEMP_DIR": where / "nginx",
        "UPSTREAM": "127.0.0.1:1", "NGINX_LISTEN": "127.0.0.1:1", "NGINX_PROXY_TIMEOUT": 30,
    }, **render))  # fmt: skip
    done = subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
    return conf.read_text()


def test_paths_with_spaces(tmp_path):
    text = _checked(tmp_path / "my results")
    assert "allow" not in text and "deny" not in text  # any client, as native and compose


def test_only_the_clients_given_are_answered(tmp_path):
    text = _checked(tmp_path, clients=["10.0.0.3", "10.0.0.4", "127.0.0.1"])
    server = text[text.index("server {") :]
    assert [
        ln.strip() for ln in server.splitlines() if ln.strip().startswith(("allow", "deny"))
    ] == ["allow 10.0.0.3;", "allow 10.0.0.4;", "allow 127.0.0.1;", "deny all;"]

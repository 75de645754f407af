"""The nginx config the template renders is valid where a run's paths hold spaces (a results
directory such as "my results")."""

import subprocess

import pytest

from djbench.errors import UserError
from djbench.stack import nginx


def test_paths_with_spaces(tmp_path):
    try:
        binary = nginx.find_binary()
    except UserError:
        pytest.skip("nginx is not installed")
    where = tmp_path / "my results"
    (where / "nginx").mkdir(parents=True)
    conf = where / "nginx.conf"
    conf.write_text(nginx.render({
        **nginx.SETTINGS, "NGINX_PID_PATH": where / "nginx.pid",
        "NGINX_ERROR_LOG": where / "nginx.error.log", "NGINX_TEMP_DIR": where / "nginx",
        "UPSTREAM": "127.0.0.1:1", "NGINX_LISTEN": "127.0.0.1:1", "NGINX_PROXY_TIMEOUT": 30,
    }))  # fmt: skip
    done = subprocess.run([binary, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr

"""What this machine has, asked without starting anything: the command that installs a system
package here, and whether a Docker engine answers."""

import os
import shutil
import subprocess


def install_hint(*packages):
    """The one command that installs the packages here."""
    command = f"apt-get install {' '.join(packages)}"
    if shutil.which("apt-get"):
        return command if os.geteuid() == 0 else f"sudo {command}"
    return f"sudo {command} on Debian/Ubuntu, else the system's package manager"


def can_install():
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def engine_available():
    """A Docker engine answers (compose mode can run)."""
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0

"""The wheel carries the compose stack's top-level files inside the package (paths.py looks for
them there); everything else is configured in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TOP_LEVEL_FILES = ("docker-compose.yml", "Dockerfile", ".dockerignore", "constraints.txt")


class BuildPy(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:  # an editable install reads them from the checkout
            for name in TOP_LEVEL_FILES:
                self.copy_file(name, str(Path(self.build_lib) / "djbench" / name))


setup(cmdclass={"build_py": BuildPy})

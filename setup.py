"""Packaging hook: the wheel carries the top-level firmware/, boards/ and
micropython/ folders as toolkit/_data/<name> (one copy in git; the sdist gets
them through MANIFEST.in).  toolkit/resources.py finds them either way."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = ("firmware", "boards", "micropython")
SKIP = shutil.ignore_patterns("build", "__pycache__", "*.pyc", "*.o", "*.so", ".*")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return                       # an editable install reads the checkout itself
        for name in DATA:
            target = Path(self.build_lib) / "toolkit" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithData})

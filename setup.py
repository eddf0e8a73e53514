"""Build hook: the wheel carries copies of the top-level notebooks/ (workbench/notebooks/*.ipynb).

The five notebooks stay at the top level (the design card, DESIGN.md §2); an installed package finds its copies
with importlib.resources (``workbench.pipeline.notebook_file``). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "workbench" / "notebooks"
        target.mkdir(parents=True, exist_ok=True)
        for notebook in sorted((HERE / "notebooks").glob("*.ipynb")):
            shutil.copyfile(notebook, target / notebook.name)


setup(cmdclass={"build_py": BuildWithNotebooks})

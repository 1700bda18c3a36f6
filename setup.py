"""Ship the rule catalogue (rules/) inside the package as moneytrail/catalogue.

Everything else about the build is in pyproject.toml. The catalogue lives at
the top of the repository, where analysts read and edit it; a non-editable
install copies it next to the code so `moneytrail scan` finds it anywhere.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogue(build_py):
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "rules"
        if source.is_dir():
            target = Path(self.build_lib) / "moneytrail" / "catalogue"
            shutil.copytree(source, target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithCatalogue})

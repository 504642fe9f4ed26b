"""Compile the message catalogues while building: a wheel from a clean checkout holds the .mo files.

The .po files are the source (committed); the .mo files Flask-Babel reads are built output, compiled
here into the build folder and by `make install` into the working tree (for the editable install).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogues(root: Path) -> None:
    """Write messages.mo beside every messages.po under `root`."""
    for po_path in root.glob("service/translations/*/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file)
        with po_path.with_suffix(".mo").open("wb") as mo_file:
            write_mo(mo_file, catalogue)


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        build_lib = Path(self.build_lib)
        for po_path in Path("service/translations").glob("*/LC_MESSAGES/messages.po"):
            target = build_lib / po_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(po_path.read_bytes())
        compile_catalogues(build_lib)


setup(cmdclass={"build_py": BuildWithCatalogues})

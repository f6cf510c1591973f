"""``python -m ocre_py`` is the ``ocre`` command."""

from ocre_py.cli.main import console

console()

"""Fuzz the board database loader (YAML + schema + ``Board.from_dict``)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from fuzz._seeds import REPO
from ocre_py.zephyr.board.database import load_boards

PARSER = "ocre_py.zephyr.board.database.load_boards"

_TMP = Path(tempfile.mkdtemp(prefix="ocre-fuzz-boards-"))
atexit.register(shutil.rmtree, _TMP, True)


def seeds() -> list[bytes]:
    text = (REPO / "ocre_py/zephyr/board/boards.yaml").read_text()
    # The whole file and its first board alone (small inputs mutate faster).
    head, _, rest = text.partition("\n  - name:")
    first = head + "\n  - name:" + rest.split("\n  - name:")[0] + "\n"
    return [text.encode(), first.encode()]


def check(data: bytes) -> None:
    path = _TMP / "boards.yaml"
    path.write_bytes(data)
    boards = load_boards(path)
    for board in boards.values():
        board.storage_for(None)


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_boards"))

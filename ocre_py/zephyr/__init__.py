"""The Zephyr room: boards as data, ``ocre.yml``, overlay rendering, budget, build, footprint, flash.

It never imports a wasm engine: firmware is built by Zephyr's own tools, driven through ``west``.
Sub-modules are imported directly (``from ocre_py.zephyr.board.database import get_board``) so that a
command pays only for what it uses.
"""

"""The board wing: what a board is (the database), its devicetree, and where its storage lies.

The lowest wing of the Zephyr room: it imports no other wing. ``database`` holds the boards as data
(``boards.yaml``, checked against ``boards.schema.yaml``), ``devicetree`` reads a merged
``zephyr.dts`` (dtlib when a Zephyr tree is at hand), ``geometry`` turns either into the storage
partition's absolute address, size and erase block.
"""

"""The storage wing: how containers sit in a board's flash, and the files that carry them there.

``littlefs`` is the Ocre core's layout (``ocre/images``, ``ocre/autostart``), ``bundle`` the tiny
firmware's flat read-in-place image, ``autostart`` the boot list both share, ``hexfile`` Intel HEX at
the partition's absolute address, ``native_flash`` native_sim's flash file, and ``formats`` the table
of formats by name that deploy and emulate read. Above the board and project wings.
"""

# SPDX-License-Identifier: Apache-2.0
# Runners as boards/st/nucleo_u575zi_q/board.cmake, with pyocd first (the default 'west flash'
# runner: it erases sectors only, so the storage partition survives a firmware update) and the
# U585 part names. pyocd needs the Keil.STM32U5xx_DFP pack ('pyocd pack install stm32u585').
board_runner_args(pyocd "--target=stm32u585zitxq")
board_runner_args(stm32cubeprogrammer "--port=swd" "--reset-mode=hw")
board_runner_args(openocd "--tcl-port=6666")
board_runner_args(openocd --cmd-pre-init "gdb_report_data_abort enable")
board_runner_args(openocd "--no-halt")
board_runner_args(jlink "--device=STM32U585ZI" "--reset-after-load")

include(${ZEPHYR_BASE}/boards/common/pyocd.board.cmake)
include(${ZEPHYR_BASE}/boards/common/stm32cubeprogrammer.board.cmake)
include(${ZEPHYR_BASE}/boards/common/openocd.board.cmake)
include(${ZEPHYR_BASE}/boards/common/jlink.board.cmake)

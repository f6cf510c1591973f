"""The out-of-tree nucleo_u585 board: files present, YAML well-formed, devicetree consistent with
the board database. Zephyr's SoC dtsi is replaced by a stub that defines the labels the board uses
(names as in Zephyr's stm32u5 dtsi and hal_stm32's stm32u585zitxq-pinctrl.dtsi), so dtc checks the
board file's syntax, label references and partition layout without a Zephyr tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from ocre_py.zephyr.board.database import get_board
from tests.conftest import require_program

BOARD_DIR = Path(__file__).resolve().parents[2] / "zephyr_app" / "boards" / "st" / "nucleo_u585"
LABELS = ["clk_hsi48", "clk_lse", "clk_msis", "pll1", "rcc", "usart1", "lpuart1", "gpdma1", "iwdg", "rng",
          "sram0", "gpiob", "gpioc", "gpiog"]  # fmt: skip
PINS = ["usart1_tx_pa9", "usart1_rx_pa10", "lpuart1_tx_pg7", "lpuart1_rx_pg8"]


def test_required_hwmv2_files_exist():
    names = {p.name for p in BOARD_DIR.iterdir()}
    assert {"board.yml", "Kconfig.nucleo_u585", "nucleo_u585.dts", "nucleo_u585_defconfig", "board.cmake",
            "nucleo_u585.yaml"} <= names  # fmt: skip


def test_board_yml_and_twister_yaml():
    board = yaml.safe_load((BOARD_DIR / "board.yml").read_text())["board"]
    assert board == {"name": "nucleo_u585", "full_name": board["full_name"], "vendor": "st",
                     "socs": [{"name": "stm32u585xx"}]}  # fmt: skip
    platform = yaml.safe_load((BOARD_DIR / "nucleo_u585.yaml").read_text())
    assert (platform["identifier"], platform["ram"], platform["flash"]) == ("nucleo_u585", 768, 2048)
    kconfig = (BOARD_DIR / "Kconfig.nucleo_u585").read_text()
    assert "config BOARD_NUCLEO_U585\n\tselect SOC_STM32U585XX" in kconfig


def test_board_cmake_default_runner_matches_the_database():
    includes = re.findall(r"include\(\$\{ZEPHYR_BASE\}/boards/common/(\w+)\.board\.cmake\)",
                          (BOARD_DIR / "board.cmake").read_text())  # fmt: skip
    board = get_board("nucleo_u585")
    assert tuple(includes) == board.runners
    assert (
        f'board_runner_args(pyocd "--target={board.pyocd_target}")' in (BOARD_DIR / "board.cmake").read_text()
    )


def test_dts_compiles_and_matches_the_database(tmp_path: Path):
    require_program("dtc")
    inc = tmp_path / "include"
    (inc / "st" / "u5").mkdir(parents=True)
    (inc / "zephyr" / "dt-bindings" / "input").mkdir(parents=True)
    nodes = "\n".join(
        f"\t{label}: {label}@{i:x} {{ reg = <{i:#x} 4>; }};" for i, label in enumerate(LABELS, 1)
    )
    (inc / "st" / "u5" / "stm32u585Xi.dtsi").write_text(
        "#define DT_FREQ_M(x) ((x) * 1000000)\n#define DT_SIZE_K(x) ((x) * 1024)\n"
        "#define GPIO_ACTIVE_HIGH 0\n"
        "/ {\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n"
        f"{nodes}\n\tflash0: flash@8000000 {{ reg = <0x08000000 0x200000>; }};\n}};\n"
    )
    pins = "\n".join(f"\t{p}: {p} {{ }};" for p in PINS)
    (inc / "st" / "u5" / "stm32u585zitxq-pinctrl.dtsi").write_text(f"/ {{ pinctrl {{\n{pins}\n}}; }};\n")
    (inc / "zephyr" / "dt-bindings" / "input" / "input-event-codes.h").write_text("#define INPUT_KEY_0 11\n")
    cpp = ["cpp", "-P", "-nostdinc", f"-I{inc}", "-undef", "-D__DTS__", "-x", "assembler-with-cpp"]
    pre = subprocess.run(
        [*cpp, str(BOARD_DIR / "nucleo_u585.dts")], capture_output=True, text=True, check=True
    )
    out = subprocess.run(
        ["dtc", "-I", "dts", "-O", "dts", "-q"], input=pre.stdout, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    m = re.search(r"storage_partition: partition@([0-9a-f]+) \{(.*?)\};", out.stdout, re.S)
    assert m
    spec = get_board("nucleo_u585").storage["internal"]
    assert int(m.group(1), 16) == spec.offset
    assert f"reg = <{spec.offset:#x} {spec.size:#x}>" in m.group(2)
    assert 'compatible = "zephyr,mapped-partition"' in m.group(2)

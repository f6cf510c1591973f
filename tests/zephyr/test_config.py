"""ocre.yml: defaults, a full valid file, and one bad file per failure mode with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ocre_py.errors import InvalidInput
from ocre_py.zephyr.project.config import OcreConfig, load_config

INVALID = Path(__file__).parent / "data" / "invalid"
EXPECTED = yaml.safe_load((INVALID / "expected.yaml").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_config_gives_one_clear_line(name: str):
    path = INVALID / name
    with pytest.raises(InvalidInput) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: {EXPECTED[name]}"
    assert "\n" not in str(exc.value)


def test_bad_yaml_names_file_and_line():
    path = INVALID / "bad_yaml.yml"
    with pytest.raises(InvalidInput, match=rf"^{path}:2: not valid YAML"):
        load_config(path)


def test_every_invalid_file_has_an_expectation():
    files = {p.name for p in INVALID.glob("*.yml")} - {"bad_yaml.yml"}
    assert files == set(EXPECTED)


def test_full_config(tmp_path: Path):
    p = tmp_path / "ocre.yml"
    p.write_text(
        "board: nucleo_u585\n"
        "features: {timers: true, filesystem: true}\n"
        "wamr: {heap_size: 192K, stack_size: 4KiB}\n"
        "storage: {size: 128K, medium: internal}\n"
        "containers:\n"
        "  - {image: build/hello.wasm, name: hello, args: [world], env: {GREETING: Hi},"
        " capabilities: [filesystem], autostart: true}\n"
    )
    cfg = load_config(p)
    assert cfg.board == "nucleo_u585"
    assert cfg.features["timers"] and cfg.features["messaging"], "timers select messaging (Ocre Kconfig)"
    assert (cfg.heap_size, cfg.stack_size, cfg.storage_size) == (192 * 1024, 4096, 128 * 1024)
    (c,) = cfg.containers
    assert (c.name, c.image_file, c.args, c.env, c.capabilities) == (
        "hello", "hello.wasm", ("world",), {"GREETING": "Hi"}, ("filesystem",)
    )  # fmt: skip


def test_missing_config_means_defaults():
    assert load_config(None) == OcreConfig()

"""``ocre.yaml``: one bad file per failure mode, each with the one-line message it must produce."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.image.ocre_yaml import load_spec
from tests.image.conftest import snapshot

DATA = Path(__file__).parent / "data"

# file → fragment of the expected message (after "<file>: ")
INVALID = {
    "invalid_no_name.yaml": "field 'name': expected to be present",
    "invalid_name_case.yaml": "name 'Hello': expected lowercase letters",
    "invalid_unknown_field.yaml": "field 'colour': expected one of name, version",
    "invalid_capability.yaml": "capabilities.1 'lasers': expected a list of ocre:api",
    "invalid_args_type.yaml": "args 'notalist': expected a list of strings",
    "invalid_env_name.yaml": "env",
    "invalid_memory.yaml": "memory 'lots': expected a byte count",
    "invalid_no_module.yaml": "wasm/sources 'neither': expected exactly one of them",
    "invalid_both_modules.yaml": "wasm/sources 'both': expected exactly one of them",
    "invalid_source_suffix.yaml": "sources.0 'hello.cpp': expected a list of .c files",
    "invalid_version.yaml": "version '1 0': expected a tag",
    "invalid_yaml_syntax.yaml": "not valid YAML at line",
    "invalid_not_mapping.yaml": "document 'list': expected a mapping of fields",
}


@pytest.mark.parametrize(("name", "fragment"), INVALID.items(), ids=list(INVALID))
def test_invalid_file_gives_one_line_naming_file_and_field(name: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_spec(DATA / name)
    message = str(err.value)
    assert message.startswith(str(DATA / name) + ": "), message
    assert fragment in message, message
    assert "\n" not in message


def test_valid_spec_resolves_paths_and_parses_sizes(tmp_path: Path) -> None:
    spec_file = tmp_path / "ocre.yaml"
    spec_file.write_text(
        "name: blinky\nversion: 2\nsources: [src/blinky.c]\nargs: [6, '250']\n"
        "env: {GREETING: Hi}\ncapabilities: ['ocre:api']\nmemory: 128K\nlabels: {team: fw}\n"
    )
    spec = load_spec(spec_file)
    assert spec.sources == (tmp_path / "src" / "blinky.c",)
    assert spec.args == ("6", "250")
    assert spec.env == ("GREETING=Hi",)
    assert spec.memory == 128 * 1024
    assert spec.version == "2"
    assert spec.labels == {"team": "fw"}


def test_cli_build_from_bad_yaml_exits_2_and_leaves_store_unchanged(
    cli: Callable[..., object], hello: Path, tmp_path: Path, store_root: Path
) -> None:
    shutil.copy(hello, tmp_path / "hello.wasm")
    assert cli("image", "build", "-t", "seed:1", hello).code == 0
    before = snapshot(store_root)
    bad = tmp_path / "ocre.yaml"
    bad.write_text((DATA / "invalid_capability.yaml").read_text())
    result = cli("image", "build", "-f", bad)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert (
        lines[0] == f"ocre: error: {bad}: capabilities.1 'lasers': "
        "expected a list of ocre:api, ocre:shared_heap, networking, filesystem"
    )
    assert snapshot(store_root) == before


def test_cli_build_from_yaml_with_wasm(cli: Callable[..., object], hello: Path, tmp_path: Path) -> None:
    shutil.copy(hello, tmp_path / "hello.wasm")
    (tmp_path / "ocre.yaml").write_text(
        "name: hello\nversion: '1.0'\nwasm: hello.wasm\nargs: [world]\nenv: {GREETING: Hi}\nmemory: 256K\n"
    )
    result = cli("image", "build", "-f", tmp_path / "ocre.yaml", "--json")
    assert result.code == 0, result.err
    import json

    doc = json.loads(result.out)
    assert doc["ref"] == "hello:1.0"
    assert doc["config"]["args"] == ["world"]
    assert doc["config"]["env"] == ["GREETING=Hi"]
    assert doc["config"]["memory"]["limit"] == 256 * 1024

"""The issue's acceptance path, through the ``ocre`` CLI against the real registry, unsigned and signed:

build from the example's C source → push → rm → pull → run the pulled module on the Linux runtime.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.image import ImageStore, export_to_images_dir, resolve_runnable
from tests.conftest import EXAMPLES_DIR
from tests.image.conftest import RegistryServer


def run_container(wasm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ocre run`` in a child process: the container's own stdout is the point."""
    ocre = Path(sys.executable).with_name("ocre")
    return subprocess.run(
        [str(ocre), "run", str(wasm), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_build_push_rm_pull_run(
    signed: bool, registry: RegistryServer, cli: Callable[..., object], store_root: Path
) -> None:
    port = registry.host.rsplit(":", 1)[1]
    name = f"hello{'-signed' if signed else ''}"
    remote = f"localhost:{port}/{name}:1"
    built = cli("image", "build", "-t", f"{name}:1", "--arg", "world", EXAMPLES_DIR / "hello" / "hello.c")
    assert built.code == 0, built.err
    if signed:
        assert cli("key", "generate", "release").code == 0
        assert cli("image", "sign", f"{name}:1", "--key", "release").code == 0
    pushed = cli("image", "push", remote)
    assert pushed.code == 0, pushed.err
    digest = pushed.out.split()[1]
    assert cli("image", "rm", f"{name}:1").code == 0
    assert ImageStore(store_root).images() == []

    pull_args = ["image", "pull", remote] + (["--require-signature"] if signed else [])
    pulled = cli(*pull_args)
    assert pulled.code == 0, pulled.err
    assert pulled.err == f"Digest: {digest}\n"

    image = resolve_runnable(f"{name}:1", require_signature=signed)  # the short name finds the pulled image
    assert image.digest == digest
    assert image.config["args"] == ["world"]
    assert (image.signed_by is not None) == signed
    workdir = Path(os.environ["OCRE_HOME"])
    flat = export_to_images_dir(f"{name}:1", workdir)
    assert flat == workdir / "images" / f"{name}.wasm"
    result = run_container(flat, *image.config["args"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Hello, world! powered by Ocre"
    assert result.stdout.splitlines()[1] == f"argv[0]={flat}"


def test_unsigned_image_is_refused_with_require_signature(
    registry: RegistryServer, cli: Callable[..., object], hello: Path, store_root: Path
) -> None:
    remote = f"{registry.host}/plain:1"
    assert cli("image", "build", "-t", remote, hello).code == 0
    assert cli("image", "push", remote).code == 0
    assert cli("image", "rm", remote).code == 0
    assert cli("key", "generate", "release").code == 0
    refused = cli("image", "pull", remote, "--require-signature")
    assert refused.code == 1
    assert refused.err.splitlines()[0].startswith(f"ocre: error: {remote} (sha256:")
    assert refused.err.splitlines()[0].endswith(") is not signed; refusing it (--require-signature)")
    assert ImageStore(store_root).images() == []

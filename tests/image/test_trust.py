"""Issue 13, items 1 and 2: every path that runs or deploys an image honours the signature policy.

One check in the library (:func:`ocre_py.image.trust.require_signature`), reached from ``run``,
``create``, ``zephyr deploy`` (files/board/QEMU share the partition path; no board is the Linux
runtime), whether the requirement comes from ``--require-signature`` or from the workdir's policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import ImageError, InvalidInput
from ocre_py.image import ImageStore, build_from_file
from ocre_py.image.signing import generate_key, load_private_key, sign
from ocre_py.image.trust import effective_policy, load_policy, require_signature, set_require_signature


@pytest.fixture
def images(store_root: Path, examples: dict[str, Path]) -> ImageStore:
    """``unsigned:1`` and ``signed:1`` (signed by the workdir's key ``dev``) in the store."""
    store = ImageStore(store_root)
    generate_key("dev")
    build_from_file(store, "unsigned:1", examples["hello"])
    build_from_file(store, "signed:1", examples["hello"])
    sign(store, "signed:1", load_private_key("dev"))
    return store


def test_the_one_check_and_where_the_policy_comes_from(images: ImageStore) -> None:
    assert effective_policy().require_signature is False
    assert require_signature(images, "unsigned:1", effective_policy()) is None
    flagged = effective_policy(True)
    with pytest.raises(ImageError, match=r"is not signed; refusing it \(--require-signature\)"):
        require_signature(images, "unsigned:1", flagged)
    assert require_signature(images, "signed:1", flagged)
    path = set_require_signature(True)
    assert json.loads(path.read_text()) == {"trust": {"require-signature": True}}
    assert load_policy().require_signature and effective_policy().origin == str(path)
    with pytest.raises(ImageError, match=rf"refusing it \(require-signature in {path}\)"):
        require_signature(images, "unsigned:1", effective_policy())


def test_bad_policy_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"trust": {"require-signature": "yes"}}')
    with pytest.raises(InvalidInput, match=r"trust.require-signature 'yes': expected true or false"):
        load_policy(tmp_path)


def test_zephyr_deploy_takes_require_signature(images: ImageStore, cli: Callable[..., object], tmp_path):
    """It was 'unrecognized arguments'; now files/board (-o -b) and Linux targets refuse unsigned."""
    out = tmp_path / "out"
    refused = cli("zephyr", "deploy", "--require-signature", "unsigned:1", "-b", "nucleo_u575zi_q", "-o", out)
    assert refused.code == 1 and "unsigned:1" in refused.err and "is not signed; refusing it" in refused.err
    assert not (out / "storage.bin").exists()
    linux = cli("zephyr", "deploy", "--require-signature", "unsigned:1")
    assert linux.code == 1 and "is not signed" in linux.err
    ok = cli("zephyr", "deploy", "--require-signature", "signed:1", "-b", "nucleo_u575zi_q", "-o", out)
    assert ok.code == 0, ok.err
    assert (out / "storage.bin").is_file()


def test_workdir_policy_refuses_unsigned_everywhere(
    images: ImageStore, cli: Callable[..., object], examples: dict[str, Path], tmp_path: Path
) -> None:
    assert cli("trust", "show").out.startswith("require-signature: off")
    assert cli("trust", "set", "require-signature", "on").code == 0
    assert cli("trust", "show").out.startswith("require-signature: on")
    out = tmp_path / "out"
    for argv in (
        ("run", "unsigned:1"),
        ("zephyr", "deploy", "unsigned:1", "-b", "nucleo_u575zi_q", "-o", out),
        ("zephyr", "deploy", "unsigned:1"),
    ):
        r = cli(*argv)
        assert r.code == 1 and "require-signature in" in r.err and "is not signed" in r.err, (argv, r.err)
    bare = cli("run", examples["hello"])
    assert bare.code == 2 and "a signed image from the store (require-signature in" in bare.err
    bare_deploy = cli("zephyr", "deploy", examples["hello"], "-b", "nucleo_u575zi_q", "-o", out)
    assert bare_deploy.code == 2 and "a signed image from the store" in bare_deploy.err
    assert not out.exists()
    assert cli("run", "signed:1").code == 0
    assert cli("trust", "set", "require-signature", "off").code == 0
    assert cli("run", "unsigned:1").code == 0

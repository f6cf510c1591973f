"""Container images: build, store, sign, save/load and push/pull OCI images of Wasm modules.

This room never imports a wasm engine (``tests/image/test_no_engine.py``): the Zephyr side and the
client commands import it and must stay light, so modules are read by :mod:`ocre_py.image.wasm`, a
small binary reader, and checked against WAMR builds by :mod:`ocre_py.image.wamr`. Runtimes enter
through :func:`resolve_image` / :func:`resolve_runnable` and :func:`export_to_images_dir`.

Names are imported on first use (PEP 562): a client that only resolves a module file never loads
the store, the registry client or the builder.
"""

from __future__ import annotations

from ocre_py.lazy import lazy_exports

TYPE_CHECKING = False  # not typing's: an attached `ocre run` imports this package at start-up
if TYPE_CHECKING:
    from ocre_py.image.build import (
        BuiltImage,
        ImageOptions,
        build_from_file,
        build_from_sources,
        build_from_spec,
        build_image,
    )
    from ocre_py.image.distribution import Transfer, pull, pull_url, push
    from ocre_py.image.layout_tar import load, save
    from ocre_py.image.reference import Reference, parse_reference
    from ocre_py.image.runnable import (
        RunnableImage,
        check_for_target,
        export_runnable,
        export_to_images_dir,
        resolve_runnable,
    )
    from ocre_py.image.store import ImageStore, StoredImage, default_store_root
    from ocre_py.image.validate import Checks

__getattr__ = lazy_exports(
    __name__,
    {
        "build": "BuiltImage ImageOptions build_from_file build_from_sources build_from_spec build_image",
        "distribution": "Transfer pull pull_url push",
        "layout_tar": "load save",
        "reference": "Reference parse_reference",
        "runnable": "RunnableImage check_for_target export_runnable export_to_images_dir resolve_runnable",
        "store": "ImageStore StoredImage default_store_root",
        "validate": "Checks",
    },
)

__all__ = [
    "BuiltImage",
    "Checks",
    "ImageOptions",
    "ImageStore",
    "Reference",
    "RunnableImage",
    "StoredImage",
    "Transfer",
    "build_from_file",
    "build_from_sources",
    "build_from_spec",
    "build_image",
    "check_for_target",
    "default_store_root",
    "export_runnable",
    "export_to_images_dir",
    "load",
    "parse_reference",
    "pull",
    "pull_url",
    "push",
    "resolve_runnable",
    "save",
]

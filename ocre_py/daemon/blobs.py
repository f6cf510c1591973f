"""Daemon containers pin content, not file names: ``<workdir>/blobs/sha256/<hex>/<name>``.

``<workdir>/images/<name>`` is a tag (upstream's flat layout, which ``images import`` and a deploy
replace). When a container is created, the module that name points to is copied once into a
content-addressed blob and its digest goes into the container's record; the container is always
(re-)created from that blob — after a daemon restart too — so importing another module under the
same name changes new containers only, and ``inspect`` shows the digest that actually runs. The
blob keeps the image's file name, so the container's ``argv[0]`` still ends in it. Blobs no
container uses are removed with the last container that used them.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ocre_py.daemon import requests
from ocre_py.fsutil import atomic_write
from ocre_py.runtime.spec import ContainerSpec, StdioTarget


class ImageBlobs:
    def __init__(self, workdir: Path, images_dir: Path) -> None:
        self.root = workdir / "blobs" / "sha256"
        self.images_dir = images_dir

    def path(self, request: dict[str, Any]) -> Path:
        return self.root / request["digest"] / request["image"]

    def pin(self, request: dict[str, Any]) -> None:
        """Record (``request["digest"]``) and keep the content ``request["image"]`` names now; an
        image that is missing stays unpinned (creating the container reports it as before)."""
        if request.get("digest"):
            return
        source = requests.image_path(self.images_dir, request["image"])
        try:
            data = source.read_bytes()
        except FileNotFoundError:
            return
        digest = hashlib.sha256(data).hexdigest()
        blob = self.root / digest / request["image"]
        if not blob.is_file():
            atomic_write(blob, data, what="an image blob")
        request["digest"] = digest

    def spec(self, request: dict[str, Any], cid: str, sink: StdioTarget) -> ContainerSpec:
        """The runtime spec of a daemon container, its module the pinned blob (pinned now if an
        older record has no digest yet)."""
        self.pin(request)
        module = self.path(request) if request.get("digest") else None
        return requests.to_spec(request, cid, sink, module_path=module)

    def collect(self, in_use: Iterable[str | None]) -> None:
        """Remove the blobs no container pins."""
        keep = set(in_use)
        if self.root.is_dir():
            for d in self.root.iterdir():
                if d.name not in keep:
                    shutil.rmtree(d, ignore_errors=True)

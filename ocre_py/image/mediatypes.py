"""Media types of Ocre images, and which ones a pull accepts (a dispatch table, not if-chains).

Ocre's own types are what ``ocre image build`` writes. On pull we also accept the CNCF Wasm
artifact types (``application/vnd.wasm.config.v0+json`` / ``application/wasm``) that other Wasm
tooling pushes, so an image built elsewhere can still run here.
"""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

OCRE_CONFIG = "application/vnd.ocre.image.config.v1+json"
OCRE_LAYER_WASM = "application/vnd.ocre.image.layer.v1.wasm"
OCRE_LAYER_AOT = "application/vnd.ocre.image.layer.v1.wasm+aot"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
#: cosign's signature payload layer (see :mod:`ocre_py.image.signing`).
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"

CNCF_WASM_CONFIG = "application/vnd.wasm.config.v0+json"
CNCF_WASM_LAYER = "application/wasm"

#: Config media types we can read → whether the config is Ocre's own (else CNCF's, mapped on read).
CONFIG_TYPES: dict[str, bool] = {OCRE_CONFIG: True, CNCF_WASM_CONFIG: False}
#: Layer media types we can run → whether the layer is WAMR AOT (Zephyr only).
LAYER_TYPES: dict[str, bool] = {OCRE_LAYER_WASM: False, OCRE_LAYER_AOT: True, CNCF_WASM_LAYER: False}

#: What a manifest GET asks for.
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX])

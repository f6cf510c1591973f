"""``ocre image build``: turn a .wasm (or C sources, or an ocre.yaml) into an image in the store.

Validation happens here, before anything is written: the module is parsed, its imports are checked
against the target profile, and its initial memory against an optional RAM budget. The config blob
records what the runtime needs to run it (args, env, capabilities, memory) and the Ocre features
its imports need, so a device deploy can refuse an image its firmware cannot serve.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput
from ocre_py.image import mediatypes as mt
from ocre_py.image.manifest import Descriptor, manifest_bytes
from ocre_py.image.ocre_yaml import ContainerSpec, load_spec
from ocre_py.image.profiles import check_code, check_memory, check_module, profile, required_features
from ocre_py.image.reference import parse_reference
from ocre_py.image.store import ImageStore, config_blob
from ocre_py.image.wasm import is_aot, parse_module

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageOptions:
    """What goes into the config, and how to validate the module."""

    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    memory: int | None = None  # bytes the container may use (its limit), recorded in the config
    labels: dict[str, str] = field(default_factory=dict)
    target: str = "linux"
    features: tuple[str, ...] = ()
    ram_budget: int | None = None
    aot_architecture: str | None = None  # set for WAMR AOT layers


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    digest: str
    size: int
    config: dict[str, Any]


def image_config(data: bytes, options: ImageOptions, *, source: str) -> tuple[dict[str, Any], str]:
    """Validate the module and return (config dict, layer media type)."""
    for i, item in enumerate(options.env):
        if "=" not in item:
            raise InvalidInput.field(source, f"env[{i}]", item, "KEY=VALUE")
    config: dict[str, Any] = {
        "args": list(options.args),
        "env": list(options.env),
        "capabilities": list(options.capabilities),
        "labels": dict(options.labels),
        "os": "wasip1",
    }
    if is_aot(data):
        if not options.aot_architecture:
            raise InvalidInput.field(
                source, "architecture", None, "--arch for a WAMR AOT file (e.g. thumbv7em)"
            )
        config.update(
            architecture=options.aot_architecture, memory={}, profile={"features": [], "imports": []}
        )
        if options.memory:
            config["memory"]["limit"] = options.memory
        return config, mt.OCRE_LAYER_AOT
    module = parse_module(data, source=source)
    target = profile(options.target, features=list(options.features) or None)
    check_module(module, target, source=source)
    check_code(data, target, source=source)
    if options.ram_budget is not None:
        check_memory(module, options.ram_budget, source=source)
    memory: dict[str, Any] = {"imported": module.memory_imported}
    if module.memory:
        memory.update(initial=module.memory.min_bytes, maximum=module.memory.max_bytes)
    if options.memory:
        memory["limit"] = options.memory
    config.update(
        architecture="wasm32",
        memory=memory,
        profile={
            "features": required_features(module),
            "imports": sorted(i.qualified for i in module.function_imports),
        },
    )
    return config, mt.OCRE_LAYER_WASM


def build_image(
    store: ImageStore, ref: str, module: bytes, options: ImageOptions | None = None, *, source: str = "module"
) -> BuiltImage:
    """Validate ``module`` and store it as image ``ref``; nothing is written when validation fails."""
    options = options or ImageOptions()
    tagged = parse_reference(ref).tagged
    config, layer_type = image_config(module, options, source=source)
    name, _, version = tagged.rpartition(":")
    config.update(name=name, version=version)
    cfg = config_blob(config)
    manifest = manifest_bytes(
        Descriptor.for_bytes(mt.OCRE_CONFIG, cfg),
        [
            Descriptor.for_bytes(
                layer_type,
                module,
                **{"org.opencontainers.image.title": f"{parse_reference(ref).short_name}.wasm"},
            )
        ],
    )
    with store.locked():
        store.put_blob(module)
        store.put_blob(cfg)
        digest = store.add_manifest(manifest, ref=tagged)
    log.info("built %s (%s)", tagged, digest)
    return BuiltImage(tagged, digest, len(module) + len(cfg), config)


def _check_request(ref: str, options: ImageOptions | None) -> None:
    """Check the name and target first, so a typo is reported before any file is read or compiled."""
    parse_reference(ref)
    if options is not None:
        profile(options.target, features=list(options.features) or None)


def build_from_file(
    store: ImageStore, ref: str, path: Path, options: ImageOptions | None = None
) -> BuiltImage:
    _check_request(ref, options)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput.field(None, "file", str(path), "an existing .wasm file") from None
    return build_image(store, ref, data, options, source=str(path))


def build_from_sources(
    store: ImageStore, ref: str, sources: list[Path], options: ImageOptions | None = None
) -> BuiltImage:
    """Compile C sources with the SDK, then build the image from the result."""
    from ocre_py.sdk.build import build_container

    _check_request(ref, options)
    with tempfile.TemporaryDirectory(prefix="ocre-image-") as tmp:
        out = Path(tmp) / "module.wasm"
        build_container(sources, out)
        return build_image(store, ref, out.read_bytes(), options, source=", ".join(map(str, sources)))


def build_from_spec(
    store: ImageStore, spec_path: Path, *, ref: str | None = None, options: ImageOptions | None = None
) -> BuiltImage:
    """Build what an ``ocre.yaml`` describes; its fields fill the options the command line left empty."""
    spec: ContainerSpec = load_spec(spec_path)
    base = options or ImageOptions()
    merged = ImageOptions(
        args=base.args or spec.args,
        env=base.env or spec.env,
        capabilities=base.capabilities or spec.capabilities,
        memory=base.memory or spec.memory,
        labels={**spec.labels, **base.labels},
        target=base.target,
        features=base.features,
        ram_budget=base.ram_budget,
        aot_architecture=base.aot_architecture,
    )
    ref = ref or f"{spec.name}:{spec.version or 'latest'}"
    if spec.wasm is not None:
        return build_from_file(store, ref, spec.wasm, merged)
    return build_from_sources(store, ref, list(spec.sources), merged)

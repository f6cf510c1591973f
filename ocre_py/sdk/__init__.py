"""The container SDK: the ``ocre_api.h`` header, its helper library, and the C → wasm build."""

from ocre_py.sdk.build import BuildOptions, BuildResult, build_container, find_toolchain

__all__ = ["BuildOptions", "BuildResult", "build_container", "find_toolchain"]

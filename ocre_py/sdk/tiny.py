"""Build options for tiny-profile containers: one declared page that WAMR shrinks to what is used.

A Cortex-M3 with 64 KB of RAM cannot give a container a whole 64 KiB wasm page. WAMR can: its loader
(``core/iwasm/interpreter/wasm_loader.c``, ``load_from_sections``, WAMR 2.4.3) shrinks the linear
memory to ``align8(__heap_base)`` bytes when, and only when,

* the module exports ``__heap_base`` and ``__data_end`` as immutable i32 constants (we pass
  ``--export=__heap_base --export=__data_end``; wasm-ld defines both),
* ``align16(__data_end) ≤ __heap_base`` (then WAMR also finds the shadow-stack pointer, wasm-ld's
  ``__stack_pointer``, the first mutable i32 constant ≤ ``__heap_base``), and
* no function contains ``memory.grow`` or ``memory.size`` (``possible_memory_grow`` stays false;
  WAMR's ``WASM_ENABLE_SHRUNK_MEMORY`` defaults to 1).

wasi-libc's malloc (dlmalloc over ``sbrk``) contains ``memory.grow``, and ``_start`` calls malloc for
argv and environ, so every ordinary WASI program defeats the shrink. Tiny containers therefore link a
small bump allocator over a fixed arena (:data:`ARENA_SOURCE`, linked before libc so dlmalloc is
never pulled in) and do not export ``malloc``/``free`` (the tiny firmware has no messaging to place).
``--stack-first`` puts the C stack at the bottom of memory so an overflow runs below address 0 and
traps instead of silently overwriting data.

Result for examples/hello: ``__heap_base`` ≈ 13 KiB, so the container needs ≈ 13 KiB of RAM instead
of 64 KiB. :func:`ocre_py.image.tiny_module.analyse_module` checks every one of the conditions above.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.sdk.build import (
    LIB_SOURCES,
    WASM_PAGE,
    BuildOptions,
    BuildResult,
    check_sources,
    compile_command,
    find_toolchain,
    run_compiler,
)

log = logging.getLogger(__name__)

#: One declared page: the most a tiny container may ever have (WAMR shrinks it further).
TINY_MEMORY = WASM_PAGE
TINY_STACK = 4096
TINY_ARENA = 2048
TINY_LDFLAGS = ("-Wl,--export=__heap_base", "-Wl,--export=__data_end", "-Wl,--stack-first")

#: The allocator linked into every tiny container: first-fit would cost code; a bump arena with
#: free() of the last block is enough for argv/environ set-up and small programs, and contains no
#: memory.grow. Exhaustion returns NULL with errno = ENOMEM, as malloc must.
ARENA_SOURCE = r"""
/* Ocre tiny-profile allocator: a fixed arena, so the module never grows its memory. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef OCRE_TINY_ARENA
#define OCRE_TINY_ARENA 4096
#endif
#define ALIGN 16u

static unsigned char arena[OCRE_TINY_ARENA] __attribute__((aligned(ALIGN)));
static size_t used, last;

static void *take(size_t n, size_t align) {
    size_t start = (used + align - 1) & ~(align - 1), need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0) need = ALIGN;
    if (need < n || start > sizeof arena || need > sizeof arena - start) { errno = ENOMEM; return NULL; }
    last = start;
    used = start + need;
    return arena + start;
}
void *malloc(size_t n) { return take(n, ALIGN); }
void free(void *p) { if (p && (unsigned char *)p == arena + last) used = last; }
void *calloc(size_t a, size_t b) {
    if (b && a > SIZE_MAX / b) { errno = ENOMEM; return NULL; }
    void *p = malloc(a * b);
    if (p) memset(p, 0, a * b);
    return p;
}
void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    size_t old = used - ((unsigned char *)p - arena); /* an upper bound of the old block */
    if ((unsigned char *)p == arena + last) { /* the last block: resize in place */
        size_t saved = used;
        used = last;
        if (take(n, ALIGN)) return p;
        used = saved;
        return NULL;
    }
    void *q = malloc(n);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
}
void *aligned_alloc(size_t align, size_t n) {
    if (align == 0 || (align & (align - 1))) { errno = EINVAL; return NULL; }
    return take(n, align < ALIGN ? ALIGN : align);
}
int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = take(n, align < ALIGN ? ALIGN : align);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
"""


def tiny_options(
    base: BuildOptions | None = None, *, stack_size: int = TINY_STACK, arena_size: int = TINY_ARENA
) -> BuildOptions:
    """``base`` turned into a tiny-profile build: 1 page min = max, small stack, shrink exports."""
    if arena_size < 256 or arena_size % 16:
        raise InvalidInput.field(None, "--tiny arena", arena_size, "at least 256 bytes, a multiple of 16")
    base = base or BuildOptions(optimize="-Os")
    return replace(
        base,
        memory_initial=TINY_MEMORY,
        memory_max=TINY_MEMORY,
        stack_size=stack_size,
        import_memory=False,  # module-defined memory: wasm-ld 14 cannot export an imported one
        export_allocator=False,  # no malloc/free exports: the tiny firmware has no messaging to place
        defines=(*base.defines, f"OCRE_TINY_ARENA={arena_size}"),
        extra_ldflags=(*base.extra_ldflags, *TINY_LDFLAGS),
    )


#: The SDK helper library compiled with tiny tables: unchanged code, but its callback and message
#: tables shrink from ≈10.7 KiB of static data (64 callbacks, 128-byte topics) to ≈0.5 KiB. The header
#: has include guards, so the redefinitions below reach only the library's own arrays and loops.
LIB_WRAPPER = """/* Ocre SDK helper library with tiny-profile table sizes (generated by ocre build --tiny). */
#include "ocre_api.h"
#undef OCRE_MAX_CALLBACKS
#define OCRE_MAX_CALLBACKS 16
#undef OCRE_MAX_TOPIC_LEN
#define OCRE_MAX_TOPIC_LEN 32
#undef OCRE_MAX_CONTENT_TYPE_LEN
#define OCRE_MAX_CONTENT_TYPE_LEN 32
#undef OCRE_MAX_PAYLOAD_LEN
#define OCRE_MAX_PAYLOAD_LEN 64
#include "{lib}"
"""


def build_tiny(
    sources: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    options: BuildOptions | None = None,
    *,
    check: bool = True,
) -> BuildResult:
    """Compile a tiny container (``ocre build --tiny``) and check that WAMR will shrink its memory.

    ``options`` should come from :func:`tiny_options`; plain options are converted. The command is
    :func:`compile_command`'s with the SDK library swapped for :data:`LIB_WRAPPER` and the arena
    allocator placed first (so its ``malloc`` wins before libc.a is searched). The check
    (:func:`ocre_py.image.tiny_module.analyse_module`) refuses a module that would need a full 64 KiB page.
    """
    opts = options if options is not None and options.memory_max == TINY_MEMORY else tiny_options(options)
    srcs = check_sources(sources)
    toolchain = find_toolchain(import_memory=False)
    out = Path(output)
    with tempfile.TemporaryDirectory(prefix="ocre-tiny-") as tmp:
        arena, lib = Path(tmp) / "ocre_tiny_arena.c", Path(tmp) / "ocre_api_tiny.c"
        arena.write_text(ARENA_SOURCE)
        lib.write_text(LIB_WRAPPER.replace("{lib}", str(LIB_SOURCES[0])))
        tmp_out = Path(tmp) / "out.wasm"
        skip = {str(s) for s in LIB_SOURCES}
        cmd = [c for c in compile_command(toolchain, [arena, *srcs, lib], tmp_out, opts) if c not in skip]
        run_compiler(cmd, srcs, what=" (tiny)")
        data = tmp_out.read_bytes()
    if check:
        from ocre_py.image.tiny_module import analyse_module

        analyse_module(data, source=str(out)).require_shrinkable()
    atomic_write(out, data)
    return BuildResult(out, len(data), cmd)

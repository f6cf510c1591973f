"""Bugs the hardening work found, with their fixes: the "what broke" column of the report.

Kept by hand (a crash found and fixed leaves no trace in a later clean run); every entry names the
target or harness that found it and the file the fix went into. The inputs that crashed are kept in
``fuzz/regressions/<target>/`` and replayed by ``tests/hardening/test_fuzz_targets.py``.
"""

from __future__ import annotations

FINDINGS: list[dict[str, str]] = [
    {
        "found_by": "fuzz_layout_tar",
        "bug": "an unreadable archive's error carried tarfile's multi-line list of tried methods",
        "fix": "ocre_py/image/layout_tar.py: keep the first line of the reason",
    },
    {
        "found_by": "fuzz_ocre_yaml",
        "bug": "an `ocre.yaml` that is not UTF-8 escaped as UnicodeDecodeError (a traceback)",
        "fix": "ocre_py/image/ocre_yaml.py: InvalidInput naming the file and the byte",
    },
    {
        "found_by": "fuzz_ocre_yaml",
        "bug": "a control character in `ocre.yaml` gave a two-line YAML reader message",
        "fix": "ocre_py/image/ocre_yaml.py: one-line problem text",
    },
    {
        "found_by": "fuzz_ocre_yaml",
        "bug": "`args:`/`sources:`/`capabilities:` with no value raised TypeError; `wasm:` with no value too",
        "fix": "ocre_py/image/ocre_yaml.py: a key with no value counts as absent",
    },
    {
        "found_by": "fuzz_boards",
        "bug": "an empty board database escaped as pykwalify's CoreError",
        "fix": "ocre_py/yaml_schema.py: InvalidInput 'document is empty'",
    },
    {
        "found_by": "fuzz_ocre_config",
        "bug": "a control character in `ocre.yml` gave a two-line YAML message; non-UTF-8 raised "
        "UnicodeDecodeError",
        "fix": "ocre_py/yaml_schema.py: one-line problem text; InvalidInput for non-UTF-8",
    },
    {
        "found_by": "fuzz_dts",
        "bug": "a string token with a newline made a multi-line DTS syntax error",
        "fix": "ocre_py/zephyr/board/devicetree.py: escape control characters in the message",
    },
    {
        "found_by": "fuzz_dts",
        "bug": "a string escape beyond one byte (`\\u0100`) or cut short (`\\x`) raised UnicodeError",
        "fix": "ocre_py/zephyr/board/devicetree.py: InvalidInput 'bad escape in a string'",
    },
    {
        "found_by": "fuzz_partition",
        "bug": "a corrupt partition (a directory under ocre/images, bad metadata, non-UTF-8 autostart) "
        "escaped as IsADirectoryError / LittleFSError / UnicodeDecodeError",
        "fix": "ocre_py/zephyr/storage/littlefs.py: DeployError 'the LittleFS image is corrupt (...)' from "
        "from_bytes, images() and autostart_entries()",
    },
    {
        "found_by": "review while writing fuzz_cli_args (now a seed)",
        "bug": "a size of hundreds of digits raised OverflowError; such a duration was accepted as infinite",
        "fix": "ocre_py/units.py: refuse non-finite numbers",
    },
    {
        "found_by": "review while writing fuzz_cli_args (now a seed and an oracle)",
        "bug": "names, refs, tags and digests were checked with `re.match(...$)`, which accepts a trailing "
        "newline: `abc\\n` passed the name rule, `a\\n/b` was a valid repository, a container name with a "
        "newline in `ocre.yml` would have split its autostart line",
        "fix": "`fullmatch` in ocre_py/names.py, image/reference.py, image/digests.py, image/layout_tar.py, "
        "image/runnable.py, image/ocre_yaml.py, zephyr/autostart.py, zephyr/config.py",
    },
    {
        "found_by": "fuzz_manifest",
        "bug": "a media type with a newline made a two-line manifest error",
        "fix": "ocre_py/image/manifest.py: non-printable values are shown with repr",
    },
    {
        "found_by": "fuzz_ocre_yaml (oracle)",
        "bug": "`sources: []` passed validation: an image description with no module and no sources",
        "fix": "ocre_py/image/ocre_yaml.py: 'sources' needs at least one file",
    },
    {
        "found_by": "security pass (test_security.py)",
        "bug": "`ocre image load` bounded each member (256 MiB) but not their sum or count: a small gzip "
        "of zeros with many members could exhaust memory; a duplicated member silently replaced the first",
        "fix": "ocre_py/image/layout_tar.py: 1 GiB total and 10 000 members, checked on the headers; "
        "duplicates refused; member names shown with repr",
    },
    {
        "found_by": "security pass (hostile names)",
        "bug": "an autostart image named `..` or `.hidden`, or with a NUL (which cuts the firmware's C "
        "string), was accepted",
        "fix": "ocre_py/zephyr/storage/autostart.py: image names may not start with '.'; NUL is a bad "
        "character",
    },
    {
        "found_by": "fuzz_dts",
        "bug": "a byte string with a non-hex digit (`[zz]`) raised a bare ValueError",
        "fix": "ocre_py/zephyr/board/devicetree.py: InvalidInput 'bad byte string'",
    },
    {
        "found_by": "ocre doctor / daemon-state review",
        "bug": "a daemon state record that is JSON but not an object, or holds a malformed request, "
        "crashed `restore()`: the daemon could not start",
        "fix": "ocre_py/daemon/state.py: such records are re-validated with requests.normalize and "
        "moved aside (`.bad`) like unreadable ones",
    },
    {
        "found_by": "hostile containers (memory.grow bomb, measured)",
        "bug": "a killed or trapped container's linear memory (32 MiB for the bomb) stayed held after "
        "`rm` until Python's cyclic GC ran: the trap traceback kept the wasmtime Store alive",
        "fix": "ocre_py/runtime/container.py: close the Store when the container's thread ends",
    },
    {
        "found_by": "issue 13 (images), item 1",
        "bug": "`ocre create --require-signature` took an unsigned image and `start` ran it; only "
        "`run`/`run -d` checked",
        "fix": "ocre_py/image/trust.py: one `require_signature(store, ref, policy)` used by run, "
        "run -d, create and zephyr deploy",
    },
    {
        "found_by": "issue 13 (images), item 2",
        "bug": "`ocre zephyr deploy --require-signature` was an unrecognized argument; no per-device policy",
        "fix": "deploy takes the flag on every target; `ocre trust set require-signature on` writes the "
        "workdir's config.json policy",
    },
    {
        "found_by": "issue 13 (images), item 5",
        "bug": "signatures were the project's own ed25519 annotation: no other tool could verify them",
        "fix": "ocre_py/image/signing.py: cosign's key-based format (simple-signing payload, .sig tag, "
        "ECDSA P-256, cosign encrypted key files)",
    },
    {
        "found_by": "issue 13 (images), item 6",
        "bug": "an expired bearer token was never refreshed; credentials went to any token realm, even "
        "plain HTTP on another host; docker login was ignored",
        "fix": "ocre_py/image/registry.py, auth.py: refetch once on 401, no credentials to a far "
        "plain-HTTP realm, read ~/.docker/config.json and credential helpers",
    },
    {
        "found_by": "issue 13 (images), item 10",
        "bug": "a 1 GiB manifest peaked the client at 2.1 GB; a layer declared 10 bytes but served as "
        "1 GiB at 1.07 GB",
        "fix": "4 MiB cap on manifests and other bodies; blobs stream to a store temp file, hashed, "
        "stopping past the declared size",
    },
    {
        "found_by": "issue 13 (images), item 12",
        "bug": "a full disk was `internal error: OSError: [Errno 28]` in pull and deploy -o",
        "fix": "ocre_py/fsutil.py: ENOSPC/EDQUOT become one NoSpace line naming the path and data; "
        "old files stay",
    },
    {
        "found_by": "issue 13 (images), item 14",
        "bug": "two `deploy -o out/` at once: storage.bin and storage.hex disagreed and an update was "
        "lost (2 of 4 tries); doctor called a bundle a broken LittleFS image",
        "fix": "deploy locks the output from reading the base to writing bin/hex as one unit; doctor "
        "validates bundles",
    },
    {
        "found_by": "issue 13 (half-open TCP flood)",
        "bug": "~1,100 connections that sent one header line starved the daemon at 1,024 open files: the "
        "Unix socket and authenticated clients timed out, a running container's log writes hit EMFILE",
        "fix": "ocre_py/daemon/connections.py: a descriptor budget, per-listener caps with pending TCP "
        "apart (oldest evicted), per-phase read deadlines, RLIMIT_NOFILE raised at start",
    },
    {
        "found_by": "issue 13 (socket path)",
        "bug": "`ocre daemon -H unix://notes.txt` deleted the ordinary file as a stale socket",
        "fix": "ocre_py/daemon/server.py: only a socket (S_ISSOCK) is replaced; anything else is refused",
    },
    {
        "found_by": "issue 13 (framing)",
        "bug": "a negative Content-Length bypassed the 1 MiB body limit (`read(-1)`); `abc` dropped the "
        "connection with a traceback",
        "fix": "ocre_py/daemon/server.py: plain digits only (400), 411 for a body route without one; "
        "nothing more is read",
    },
    {
        "found_by": "issue 13 (numbers)",
        "bug": "`memory_limit: 1e999` crashed the handler, `timeout: NaN` was accepted, `timeout: 1e999` "
        "killed the timeout thread, `wait?timeout=nan` gave 500",
        "fix": "ocre_py/daemon/validate.py: every API number finite and in range, 400 naming the field",
    },
    {
        "found_by": "issue 13 (kill -9 under create/remove load)",
        "bug": "killed daemons left data and log directories without records, and force-removed "
        "containers came back STOPPED without their data; `ocre doctor` saw nothing",
        "fix": "ocre_py/daemon/service.py: record first on create, tombstone first on rm, restore finishes "
        "removals; ocre_py/doctor.py finds and repairs both kinds",
    },
    {
        "found_by": "issue 13 (200 simultaneous clients)",
        "bug": "39–67 of 200 simultaneous connects to the Unix socket failed with EAGAIN (backlog 128)",
        "fix": "ocre_py/daemon/server.py: backlog 1,024+; ocre_py/daemon/client.py: bounded retry (2 s)",
    },
]

"""``ocre run``: run a container attached, in this process, and exit with its exit code.

Options come before the image; everything after the image is the container's argv (upstream's
``+`` option string). ``-d`` hands the container to the daemon instead.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.cli import exit_codes


def add_container_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``create`` (Docker's and upstream Ocre's spellings)."""
    parser.add_argument("-n", "--name", metavar="ID", help="container ID (default: 7 random hex digits)")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="environment entry")
    parser.add_argument(
        "-v", "--volume", action="append", default=[], metavar="HOST:GUEST", help="mount a dir"
    )
    parser.add_argument("-k", "--cap", action="append", default=[], metavar="CAP", help="grant a capability")
    parser.add_argument("-r", "--runtime", metavar="RUNTIME", help="engine (only wasmtime/wasip1)")
    parser.add_argument("--memory", metavar="SIZE", help="cap linear memory (e.g. 4M)")
    parser.add_argument("--timeout", metavar="SECONDS", help="kill after this wall-clock time (exit 124)")
    parser.add_argument("--cpu-budget", metavar="SECONDS", help="kill after this much CPU time (exit 152)")
    parser.add_argument(
        "--require-signature", action="store_true", help="refuse images not signed by a trusted key"
    )
    parser.add_argument("image", metavar="IMAGE", help="a .wasm file, or an image name in the store")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG", help="arguments for the container")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a container (attached, or -d through the daemon)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background under the daemon")
    p.add_argument("--rm", action="store_true", help="also delete the container's data directory at exit")
    from ocre_py.cli.container import add_daemon_container_options  # -H, --token, --restart, -l (with -d)

    add_daemon_container_options(p)
    add_container_options(p)
    p.set_defaults(func=cmd_run)


def build_spec(args: argparse.Namespace, *, detached: bool = False):
    """Turn parsed options into a validated ``ContainerSpec`` (bad input raises InvalidInput).

    An image from the store brings defaults from its config: its args when none are given, its env
    before the ``-e`` entries, its capabilities in addition to ``-k``, and its memory limit.
    """
    from ocre_py.runtime import ContainerSpec, Mount
    from ocre_py.units import parse_duration, parse_size

    image = resolve_image(args.image, require_signature=getattr(args, "require_signature", False))
    config = image.config
    memory = (
        parse_size(args.memory, what="--memory") if args.memory else config.get("memory", {}).get("limit")
    )
    return ContainerSpec(
        image=image.name,
        module_path=image.path,
        name=args.name,
        args=tuple(args.args) or tuple(config.get("args", ())),
        env=(*config.get("env", ()), *args.env),
        capabilities=tuple(dict.fromkeys((*config.get("capabilities", ()), *args.cap))),
        mounts=tuple(Mount.parse(v) for v in args.volume),
        memory_limit=memory,
        timeout=parse_duration(args.timeout, what="--timeout") if args.timeout else None,
        cpu_budget=parse_duration(args.cpu_budget, what="--cpu-budget") if args.cpu_budget else None,
        detached=detached,
        stdin="inherit" if not detached else None,
    )  # validated once, by Runtime.create


@dataclass(frozen=True)
class ResolvedImage:
    name: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)


def resolve_image(ref: str, *, require_signature: bool = False) -> ResolvedImage:
    """IMAGE → a module file, looked up in order: an existing file, ``<workdir>/images/<ref>`` (as on
    the device), then the image store (``NAME[:TAG]``, ``sha256:…``, a pulled registry reference),
    whose module is exported to ``<workdir>/images/<name>`` so argv[0] is the image path.

    ``--require-signature`` or the workdir's trust policy refuses bare modules and unsigned images."""
    from ocre_py.errors import InvalidInput, NotFound
    from ocre_py.workdir import default_workdir

    workdir = default_workdir()[0]
    path, in_images = Path(ref), workdir / "images" / ref
    local = None
    if path.is_file():
        local = ResolvedImage(path.name, path.resolve())
    elif "/" not in ref and in_images.is_file():
        local = ResolvedImage(ref, in_images)
    if local is not None:
        from ocre_py.image.trust import effective_policy, refuse_unsigned_file

        refuse_unsigned_file(ref, effective_policy(require_signature))  # a bare module carries none
        return local
    from ocre_py.image import export_runnable, resolve_runnable

    try:
        image = resolve_runnable(ref, require_signature=require_signature)
    except NotFound:
        raise InvalidInput.field(
            None, "image", ref, "an existing .wasm file, a file in <workdir>/images, or an image in the store"
        ) from None
    return ResolvedImage(image.name, export_runnable(image, workdir), dict(image.config))


def cmd_run(args: argparse.Namespace) -> int:
    daemon_only = [
        f for f, on in (("--restart", args.restart != "no"), ("-l", args.label), ("-H", args.host)) if on
    ]
    if daemon_only and not args.detach:
        from ocre_py.errors import InvalidInput

        verb = "applies" if len(daemon_only) == 1 else "apply"
        raise InvalidInput(f"{', '.join(daemon_only)} {verb} only with -d (a container under the daemon)")
    if args.detach:  # under the daemon (-H / $OCRE_HOST): see ocre_py.cli.container
        from ocre_py.cli.container import run_detached

        return run_detached(args)
    from ocre_py.errors import ContainerError
    from ocre_py.runtime import ContainerState, Runtime

    spec = build_spec(args)
    # Ctrl-C ends this process, so compute needs no epoch checks unless a limit asks for them.
    with Runtime(exclusive=False, interruptible=False) as runtime:
        try:
            container = runtime.run(spec, runtime=args.runtime)
        except KeyboardInterrupt:
            return exit_codes.INTERRUPTED
        except ContainerError as exc:
            sys.stderr.write(f"ocre: error: {exc.message}\n")
            return exit_codes.START_FAILED
        if container.state is ContainerState.ERROR:  # pragma: no cover - wait() raises first
            return exit_codes.START_FAILED
        if args.rm:
            runtime.remove(container.id)
        return (container.exit_code or 0) & 0xFF

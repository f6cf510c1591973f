"""The options of ``run``/``create`` and how they become a daemon create request.

Shared by ``ocre run`` (attached and ``-d``), ``ocre create`` and ``ocre container run|create``, so
the verbs parse the same options the same way; what an image brings (its args, env, capabilities,
memory limit) is applied by the library (:meth:`ocre_py.image.runnable.ResolvedImage.with_defaults`)
whichever way the container runs.
"""

from __future__ import annotations

from ocre_py.cli.daemon_client import add_client_options, upload_resolved
from ocre_py.cli.fastparse import REMAINDER

TYPE_CHECKING = False  # not typing's: see ocre_py.cli.main (start-up)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from ocre_py.daemon.client import DaemonClient


def add_container_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``create`` (Docker's and upstream Ocre's spellings)."""
    parser.add_argument("-n", "--name", metavar="ID", help="container ID (default: 7 random hex digits)")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="environment entry")
    parser.add_argument(
        "-v", "--volume", action="append", default=[], metavar="HOST:GUEST", help="mount a dir"
    )
    parser.add_argument("-k", "--cap", action="append", default=[], metavar="CAP", help="grant a capability")
    parser.add_argument(
        "--addr-pool",
        action="append",
        default=[],
        metavar="ADDR/MASK",
        help="addresses a networking container may use (WAMR's --addr-pool; default: any)",
    )
    parser.add_argument("-r", "--runtime", metavar="RUNTIME", help="engine (only wasmtime/wasip1)")
    parser.add_argument("--memory", metavar="SIZE", help="cap linear memory (e.g. 4M)")
    parser.add_argument("--timeout", metavar="SECONDS", help="kill after this wall-clock time (exit 124)")
    parser.add_argument("--cpu-budget", metavar="SECONDS", help="kill after this much CPU time (exit 152)")
    parser.add_argument(
        "--require-signature", action="store_true", help="refuse images not signed by a trusted key"
    )
    parser.add_argument("image", metavar="IMAGE", help="a .wasm file, or an image name in the store")
    parser.add_argument("args", nargs=REMAINDER, metavar="ARG", help="arguments for the container")


def add_daemon_container_options(p: argparse.ArgumentParser) -> None:
    """What only daemon containers have: restart policy and labels (plus -H/--token)."""
    p.add_argument("--restart", default="no", metavar="POLICY", help="no, on-failure[:N] or always")
    p.add_argument("-l", "--label", action="append", default=[], metavar="K=V", help="label the container")
    add_client_options(p)


def create_request(args: argparse.Namespace, client: DaemonClient) -> dict[str, Any]:
    """The create request for ``args``, its image placed on the daemon first.

    A local image (a file, ``<workdir>/images``, the store) is resolved by the library's one
    resolver, checked against the signature policy, uploaded, and its config applied exactly as an
    attached run applies it; any other valid name is an image the daemon already has.
    """
    from ocre_py.daemon.requests import create_request as build
    from ocre_py.errors import InvalidInput
    from ocre_py.image.runnable import resolve_image
    from ocre_py.image.trust import effective_policy
    from ocre_py.names import is_valid_name

    require = getattr(args, "require_signature", False)
    image = None
    try:
        image = resolve_image(args.image, require_signature=require, export=False)
    except InvalidInput:
        if effective_policy(require).require_signature or not is_valid_name(args.image):
            raise  # only a verified local image may run under a signature policy
    request = build(
        name=args.name,
        env=args.env,
        capabilities=args.cap,
        mounts=args.volume,
        addr_pool=args.addr_pool,
        memory=args.memory,
        timeout=args.timeout,
        cpu_budget=args.cpu_budget,
        restart=getattr(args, "restart", None),
        labels=getattr(args, "label", []),
        runtime=args.runtime,
        auto_remove=bool(getattr(args, "rm", False)),  # run [-d] --rm, create --rm: the daemon removes it
    )
    request["args"] = list(args.args)
    if image is None:
        request["image"] = args.image
        return request
    argv, env, caps, limit = image.with_defaults(  # the request's memory_limit: --memory, parsed by build
        args=args.args,
        env=request["env"],
        capabilities=request["capabilities"],
        memory_limit=request["memory_limit"],
    )
    request.update(args=list(argv), env=list(env), capabilities=list(caps), memory_limit=limit)
    request["image"] = upload_resolved(client, image)["name"]  # already verified: no second lookup
    return request

"""``ocre run``: run a container attached and exit with its exit code: through the daemon when one
is reachable (:mod:`ocre_py.cli.attach`), else (or with ``--local``) in this process.

Options come before the image; everything after the image is the container's argv (upstream's
``+`` option string). ``-d`` hands the container to the daemon instead. Both ways resolve the image
with the library's one resolver and apply its config the same way.
"""

from __future__ import annotations

import sys

from ocre_py.cli import exit_codes
from ocre_py.cli.container_options import add_container_options, add_daemon_container_options, create_request
from ocre_py.cli.daemon_client import client_for

TYPE_CHECKING = False  # not typing's: see ocre_py.cli.main (start-up)
if TYPE_CHECKING:
    import argparse

    from ocre_py.runtime import ContainerSpec


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_run_parser(sub, "run")


def add_verb(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    add_run_parser(sub, name)


def add_run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    """The one ``run`` parser, for ``ocre run`` and ``ocre container run``."""
    p = sub.add_parser(name, help="run a container (attached here, or -d under the daemon)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background under the daemon")
    p.add_argument("--rm", action="store_true", help="remove the container (and its data) when it exits")
    p.add_argument("--local", action="store_true", help="run in this process even when a daemon is reachable")
    add_daemon_container_options(p)  # -H, --token, --restart, -l (with -d)
    add_container_options(p)
    p.set_defaults(func=cmd_run)


def build_spec(args: argparse.Namespace, *, detached: bool = False) -> ContainerSpec:
    """Turn parsed options into a ``ContainerSpec`` (bad input raises InvalidInput); an image from
    the store brings its defaults (:meth:`ocre_py.image.runnable.ResolvedImage.with_defaults`)."""
    from ocre_py.image.runnable import resolve_image
    from ocre_py.runtime import ContainerSpec, Mount
    from ocre_py.units import parse_duration, parse_size

    image = resolve_image(args.image, require_signature=getattr(args, "require_signature", False))
    memory = parse_size(args.memory, what="--memory") if args.memory else None
    argv, env, caps, limit = image.with_defaults(
        args=args.args, env=args.env, capabilities=args.cap, memory_limit=memory
    )
    return ContainerSpec(
        image=image.name,
        module_path=image.path,
        name=args.name,
        args=argv,
        env=env,
        capabilities=caps,
        mounts=tuple(Mount.parse(v) for v in args.volume),
        addr_pool=tuple(args.addr_pool),
        memory_limit=limit,
        timeout=parse_duration(args.timeout, what="--timeout") if args.timeout else None,
        cpu_budget=parse_duration(args.cpu_budget, what="--cpu-budget") if args.cpu_budget else None,
        detached=detached,
        stdin="inherit" if not detached else None,
    )  # validated once, by Runtime.create


def run_detached(args: argparse.Namespace) -> int:
    """``ocre run -d``: create and start under the daemon, print the ID (upstream's output)."""
    client = client_for(args)
    info = client.create(create_request(args, client), start=True)
    sys.stdout.write(f"{info['id']}\n")
    return exit_codes.SUCCESS


def cmd_run(args: argparse.Namespace) -> int:
    daemon_only = [f for f, on in (("--restart", args.restart != "no"), ("-l", args.label)) if on]
    if daemon_only and not args.detach:
        from ocre_py.errors import InvalidInput

        verb = "applies" if len(daemon_only) == 1 else "apply"
        raise InvalidInput(f"{', '.join(daemon_only)} {verb} only with -d (a container under the daemon)")
    if args.local and (args.detach or args.host):
        from ocre_py.errors import InvalidInput

        raise InvalidInput(
            f"--local runs in this process; it cannot be combined with {'-d' if args.detach else '-H'}"
        )
    if args.detach:  # under the daemon (-H / $OCRE_HOST)
        return run_detached(args)
    from ocre_py.cli.attach import reachable_daemon, run_attached

    client = reachable_daemon(args)
    if client is not None:  # attached through the daemon (-H, $OCRE_HOST, the default socket)
        return run_attached(args, client)
    from ocre_py.cli import logsetup
    from ocre_py.errors import ContainerError

    logsetup.configure(args)  # the runtime logs; a client verb configures logging only now
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

"""What every daemon-facing verb shares: the ``-H``/``--token``/``--tls*`` options, the
:class:`~ocre_py.daemon.client.DaemonClient` they make, and the upload of a local image.

A module of its own, apart from ``ocre daemon``'s commands, because the client verbs (``ocre ps``,
an attached ``ocre run``) import it at start-up (issue 14).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from ocre_py.image.runnable import ResolvedImage

HOST_HELP = "daemon address unix://PATH or tcp://HOST:PORT (default: $OCRE_HOST, else <workdir>/ocre.sock)"


def add_client_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-H", "--host", metavar="ADDR", help=HOST_HELP)
    p.add_argument("--token", help="bearer token for a TCP daemon (default: $OCRE_TOKEN)")
    p.add_argument("--token-file", metavar="FILE", help="read the bearer token from FILE")
    p.add_argument(
        "--tls",
        action="store_true",
        help="use TLS to a TCP daemon (default: on when $OCRE_TLS_VERIFY is set)",
    )
    p.add_argument("--tls-ca", metavar="FILE", help="CA certificates that signed the daemon's (PEM)")
    p.add_argument("--tls-cert", metavar="FILE", help="client certificate for mutual TLS (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="the client certificate's private key (PEM)")


def client_for(args: argparse.Namespace) -> Any:
    """A :class:`DaemonClient` from ``-H``/``--token``/``--token-file``/``--tls*`` (all optional on
    ``args``; TLS files fall back to ``$OCRE_TLS_VERIFY``/``$OCRE_CERT_PATH``, which only a
    ``tcp://`` daemon reads: without a ``--tls*`` flag, :mod:`ssl` stays unimported for a Unix one)."""
    from ocre_py.daemon import DaemonClient

    on = getattr(args, "tls", False)
    ca, cert, key = (getattr(args, f"tls_{name}", None) for name in ("ca", "cert", "key"))
    tls = None
    if on or ca or cert or key:
        from ocre_py.daemon.tls import resolve_client

        tls = resolve_client(tls=on, ca=ca, cert=cert, key=key)
    return DaemonClient.connect(
        getattr(args, "host", None),
        token=getattr(args, "token", None),
        token_file=getattr(args, "token_file", None),
        tls=tls,
    )


def upload_image(client: Any, source: str, name: str | None = None) -> dict[str, Any]:
    """Send a module to the daemon's image directory: ``source`` through the library's one resolver
    (a file, ``<workdir>/images``, or the local store), under ``name`` or its own flat name."""
    from ocre_py.image.runnable import resolve_image

    return upload_resolved(client, resolve_image(source, export=False), name)


def upload_resolved(client: Any, image: ResolvedImage, name: str | None = None) -> dict[str, Any]:
    """Send an already resolved (and verified) image, checking its name here, with a hint."""
    from ocre_py.errors import InvalidInput
    from ocre_py.names import NAME_RULE, is_valid_name

    target = name or image.name
    if not is_valid_name(target):
        raise InvalidInput.field(
            None, "image name", target, NAME_RULE, hint="another name: ocre daemon images import FILE NAME"
        )
    with open(image.file, "rb") as module:
        return client.import_image(target, module.read())

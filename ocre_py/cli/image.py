"""``ocre image ...``, ``ocre key ...``, ``ocre login`` / ``logout``: thin skins over ``ocre_py.image``.

Handlers parse, call the library, and print; the library is imported inside them so these verbs
cost nothing at ``ocre`` start-up. Every listing has ``--json``; push and pull show a progress bar
on a TTY only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ocre_py.cli import exit_codes


def _checks_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target", default="linux", help="profile the module must suit: linux, zephyr, zephyr:F1,F2"
    )
    p.add_argument("--features", default="", help="a board's enabled Ocre features (comma separated, zephyr)")
    p.add_argument("--ram-budget", metavar="SIZE", help="refuse modules whose initial memory exceeds SIZE")


def _checks(args: argparse.Namespace) -> Any:
    from ocre_py.image import Checks
    from ocre_py.units import parse_size

    budget = parse_size(args.ram_budget, what="--ram-budget") if args.ram_budget else None
    features = tuple(f for f in args.features.split(",") if f)
    return Checks(target=args.target, features=features, ram_budget=budget)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    image = sub.add_parser("image", help="build, store, sign, push and pull container images")
    verbs = image.add_subparsers(dest="image_command", metavar="VERB", required=True)

    p = verbs.add_parser("build", help="build an image from a .wasm, C sources or an ocre.yaml")
    p.add_argument("-t", "--tag", help="NAME[:TAG] (default: name/version from ocre.yaml)")
    p.add_argument("-f", "--file", type=Path, help="an ocre.yaml describing the container")
    p.add_argument("inputs", nargs="*", type=Path, help="FILE.wasm, or C sources")
    p.add_argument("--arg", dest="args", action="append", default=[], help="argument recorded in the image")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="environment entry")
    p.add_argument("-k", "--cap", dest="caps", action="append", default=[], metavar="CAP", help="capability")
    p.add_argument("--memory", metavar="SIZE", help="memory limit recorded in the image")
    p.add_argument("--label", action="append", default=[], metavar="K=V", help="label")
    p.add_argument("--arch", help="architecture of a WAMR AOT module (required for .aot)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _checks_args(p)
    p.set_defaults(func=cmd_build)

    for verb, where in (("ls", verbs), ("images", sub)):
        _add_ls(where, verb)

    p = verbs.add_parser("inspect", help="show an image's manifest and config (JSON)")
    p.add_argument("ref")
    p.set_defaults(func=cmd_inspect)

    for verb, where in (("rm", verbs), ("rmi", sub)):
        _add_rm(where, verb)

    p = verbs.add_parser("prune", help="delete blobs no image refers to")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prune)

    p = verbs.add_parser("save", help="write images to an OCI image-layout tar")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("refs", nargs="+")
    p.set_defaults(func=cmd_save)

    p = verbs.add_parser("load", help="import images from an OCI image-layout tar")
    p.add_argument("-i", "--input", type=Path, required=True)
    _checks_args(p)
    p.set_defaults(func=cmd_load)

    for where in (verbs, sub):  # `ocre image tag|push|pull` and Docker's `ocre tag|push|pull`
        _add_tag_push_pull(where)

    p = verbs.add_parser("sign", help="sign an image (cosign's format; password: $OCRE_KEY_PASSWORD)")
    p.add_argument("ref")
    p.add_argument("--key", required=True, help="private key name (see 'ocre key ls') or .key file")
    p.add_argument("--identity", help="docker-reference to sign for (default: REF, e.g. HOST/NAME:TAG)")
    p.set_defaults(func=cmd_sign)

    p = verbs.add_parser("verify", help="check an image's signature")
    p.add_argument("ref")
    p.add_argument("--key", action="append", default=[], help="trusted public key (default: all keys)")
    p.set_defaults(func=cmd_verify)

    key = sub.add_parser("key", help="manage signing keys (cosign's ECDSA P-256 key files)")
    kverbs = key.add_subparsers(dest="key_command", metavar="VERB", required=True)
    p = kverbs.add_parser("generate", help="create NAME.key / NAME.pub (password: $OCRE_KEY_PASSWORD)")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="replace an existing key of that name")
    p.set_defaults(func=cmd_key_generate)
    p = kverbs.add_parser("import", help="take in a cosign public key, or encrypted private key, as NAME")
    p.add_argument("name")
    p.add_argument("file", type=Path, help="cosign.pub (PUBLIC KEY PEM) or cosign.key")
    p.add_argument("--force", action="store_true", help="replace an existing key of that name")
    p.set_defaults(func=cmd_key_import)
    p = kverbs.add_parser("show", help="print a key's public half (PEM), for cosign/skopeo --key")
    p.add_argument("--public", action="store_true", help="the public key (the only half shown)")
    p.add_argument("name")
    p.set_defaults(func=cmd_key_show)
    p = kverbs.add_parser("ls", help="list keys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_key_ls)

    trust = sub.add_parser("trust", help="this workdir's signature policy (show, set require-signature)")
    tverbs = trust.add_subparsers(dest="trust_command", metavar="VERB", required=True)
    p = tverbs.add_parser("show", help="show the policy and where it comes from")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_trust_show)
    p = tverbs.add_parser("set", help="set a policy: require-signature on|off")
    p.add_argument("setting", choices=["require-signature"])
    p.add_argument("value", choices=["on", "off"])
    p.set_defaults(func=cmd_trust_set)

    p = sub.add_parser("login", help="store credentials for a registry")
    p.add_argument("host", help="HOST[:PORT]")
    p.add_argument("-u", "--username", required=True)
    p.add_argument("-p", "--password", help="the password (prefer --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--insecure", action="store_true", help="plain HTTP to a non-loopback registry")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("logout", help="forget the credentials of a registry")
    p.add_argument("host")
    p.set_defaults(func=cmd_logout)


def _add_ls(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="list images in the local store")
    p.add_argument("-q", "--quiet", dest="ids_only", action="store_true", help="only image IDs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ls)


def _add_rm(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="remove images (a tag, or every tag of a digest)")
    p.add_argument("refs", nargs="+")
    p.set_defaults(func=cmd_rm)


def _add_tag_push_pull(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tag", help="give an image another name")
    p.add_argument("source")
    p.add_argument("target")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("push", help="push an image to a registry")
    p.add_argument("ref", help="HOST[:PORT]/NAME[:TAG] (a local image of that name)")
    p.add_argument("target", nargs="?", help="push the local image REF under this registry name")
    p.add_argument("--chunk-size", metavar="SIZE", help="upload in chunks of SIZE (default 5M)")
    _registry_args(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("pull", help="pull an image from a registry, or a raw .wasm over HTTP")
    p.add_argument("ref", help="HOST[:PORT]/NAME[:TAG|@DIGEST], or http://HOST/PATH/x.wasm")
    p.add_argument("name", nargs="?", help="for a URL: the image name (default: last URL segment)")
    p.add_argument("--require-signature", action="store_true", help="refuse unsigned or tampered images")
    p.add_argument("--key", action="append", default=[], help="trusted public key (name or .pub file)")
    _registry_args(p)
    _checks_args(p)
    p.set_defaults(func=cmd_pull)


def _registry_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--insecure", action="store_true", help="plain HTTP to a non-loopback registry")
    p.add_argument("--json", action="store_true")


def _store() -> Any:
    from ocre_py.image import ImageStore

    return ImageStore()


def _kv(items: list[str], what: str) -> dict[str, str]:
    from ocre_py.errors import InvalidInput

    out = {}
    for item in items:
        if "=" not in item:
            raise InvalidInput.field(None, what, item, "KEY=VALUE")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def cmd_build(args: argparse.Namespace) -> int:
    from ocre_py.errors import InvalidInput
    from ocre_py.image import ImageOptions, build_from_file, build_from_sources, build_from_spec
    from ocre_py.units import parse_size

    checks = _checks(args)
    _kv(args.env, "--env")
    options = ImageOptions(
        args=tuple(args.args),
        env=tuple(args.env),
        capabilities=tuple(args.caps),
        memory=parse_size(args.memory, what="--memory") if args.memory else None,
        labels=_kv(args.label, "--label"),
        target=checks.target,
        features=checks.features,
        ram_budget=checks.ram_budget,
        aot_architecture=args.arch,
    )
    store = _store()
    if args.file:
        if args.inputs:
            raise InvalidInput("give either -f ocre.yaml or input files, not both")
        built = build_from_spec(store, args.file, ref=args.tag, options=options)
    else:
        if not args.tag:
            raise InvalidInput("missing -t NAME[:TAG]", hint="ocre image build -t hello:1 hello.wasm")
        if not args.inputs:
            raise InvalidInput("nothing to build: give FILE.wasm, C sources or -f ocre.yaml")
        if all(p.suffix == ".c" for p in args.inputs):
            built = build_from_sources(store, args.tag, list(args.inputs), options)
        elif len(args.inputs) == 1:
            built = build_from_file(store, args.tag, args.inputs[0], options)
        else:
            raise InvalidInput.field(
                None, "inputs", " ".join(map(str, args.inputs)), "one .wasm file or only .c files"
            )
    if args.json:
        from ocre_py.cli.output import print_json

        print_json({"ref": built.ref, "digest": built.digest, "size": built.size, "config": built.config})
    else:
        sys.stdout.write(f"{built.ref} {built.digest}\n")
    return exit_codes.SUCCESS


def _image_row(img: Any) -> dict[str, Any]:
    return {
        "refs": list(img.refs),
        "digest": img.digest,
        "size": img.size,
        "signed": bool(_store_signatures(img)),
        "architecture": img.config.get("architecture"),
        "features": img.config.get("profile", {}).get("features", []),
    }


def _store_signatures(img: Any) -> list[str]:
    return _store().signatures(img.digest)


def cmd_ls(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table
    from ocre_py.units import format_size

    images = _store().images()
    rows = [_image_row(i) for i in images]
    if args.json:
        print_json(rows)
        return exit_codes.SUCCESS
    if args.ids_only:  # Docker's `images -q`: one short ID per image
        for digest in dict.fromkeys(row["digest"].split(":", 1)[1][:12] for row in rows):
            sys.stdout.write(f"{digest}\n")
        return exit_codes.SUCCESS
    table = []
    for row in rows:
        for ref in row["refs"] or ["<none>:<none>"]:
            name, _, tag = ref.rpartition(":")
            short = row["digest"].split(":", 1)[1][:12]
            signed = "yes" if row["signed"] else "no"
            table.append([name, tag, short, format_size(row["size"]), signed])
    print_table(["NAME", "TAG", "ID", "SIZE", "SIGNED"], sorted(table))
    return exit_codes.SUCCESS


def image_details(ref: str) -> dict[str, Any]:
    """What ``ocre image inspect REF`` shows (also ``ocre inspect`` of an image)."""
    import json

    store = _store()
    img = store.image(ref)
    return {
        **_image_row(img),
        "manifest": json.loads(store.read_blob(img.digest)),
        "config": img.config,
        "signatures": store.signatures(img.digest),
    }


def cmd_inspect(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json

    print_json(image_details(args.ref))
    return exit_codes.SUCCESS


def cmd_rm(args: argparse.Namespace) -> int:
    store = _store()
    for ref in args.refs:
        store.resolve(ref)  # all must exist before any is removed
    for ref in args.refs:
        for gone in store.remove(ref):
            sys.stdout.write(f"Untagged: {gone}\n")
    return exit_codes.SUCCESS


def cmd_tag(args: argparse.Namespace) -> int:
    sys.stdout.write(_store().tag(args.source, args.target) + "\n")
    return exit_codes.SUCCESS


def cmd_prune(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json

    removed = _store().prune()
    if args.json:
        print_json({"removed": removed})
    else:
        for d in removed:
            sys.stdout.write(f"Deleted: {d}\n")
    return exit_codes.SUCCESS


def cmd_save(args: argparse.Namespace) -> int:
    from ocre_py.image import save

    for digest in save(_store(), args.refs, args.output):
        sys.stdout.write(f"Saved: {digest}\n")
    return exit_codes.SUCCESS


def cmd_load(args: argparse.Namespace) -> int:
    from ocre_py.image import load

    for ref in load(_store(), args.input, checks=_checks(args)):
        sys.stdout.write(f"Loaded: {ref}\n")
    return exit_codes.SUCCESS


def cmd_push(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import Progress, print_json
    from ocre_py.image import push
    from ocre_py.image.registry import DEFAULT_CHUNK
    from ocre_py.units import parse_size

    chunk = parse_size(args.chunk_size, what="--chunk-size") if args.chunk_size else DEFAULT_CHUNK
    with Progress(f"push {args.target or args.ref}") as progress:
        result = push(
            _store(), args.ref, args.target, insecure=args.insecure, chunk_size=chunk, progress=progress
        )
    if args.json:
        print_json(result.__dict__)
    else:
        sys.stdout.write(f"{result.ref} {result.digest}\n")
    return exit_codes.SUCCESS


def cmd_pull(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import Progress, print_json
    from ocre_py.image import pull, pull_url

    store = _store()
    if args.ref.startswith(("http://", "https://")):
        if args.require_signature:
            from ocre_py.errors import ImageError

            raise ImageError(
                f"{args.ref}: a raw .wasm URL carries no signature; refusing it (--require-signature)"
            )
        ref, digest = pull_url(store, args.ref, args.name, checks=_checks(args))
        sys.stderr.write(f"Digest: {digest.split(':', 1)[1]}\n")
        sys.stdout.write(f"{ref}\n")
        return exit_codes.SUCCESS
    if args.name:
        from ocre_py.errors import InvalidInput

        raise InvalidInput.field(
            None, "NAME", args.name, "no NAME for a registry reference (use 'ocre image tag')"
        )
    with Progress(f"pull {args.ref}") as progress:
        result = pull(
            store, args.ref, insecure=args.insecure, checks=_checks(args),
            require_signature=args.require_signature, keys=args.key or None, progress=progress,
        )  # fmt: skip
    if args.json:
        print_json(result.__dict__)
    else:
        sys.stderr.write(f"Digest: {result.digest}\n")
        sys.stdout.write(f"{result.ref}\n")
    return exit_codes.SUCCESS


def _key_password() -> bytes:
    """The private key's password: ``$OCRE_KEY_PASSWORD``, else cosign's ``$COSIGN_PASSWORD``, else none."""
    import os

    return os.environ.get("OCRE_KEY_PASSWORD", os.environ.get("COSIGN_PASSWORD", "")).encode()


def cmd_sign(args: argparse.Namespace) -> int:
    from ocre_py.image.signing import load_private_key, sign

    private = load_private_key(args.key, password=_key_password())
    digest = sign(_store(), args.ref, private, identity=args.identity)
    sys.stdout.write(f"Signed: {args.ref} (signature {digest})\n")
    return exit_codes.SUCCESS


def cmd_verify(args: argparse.Namespace) -> int:
    from ocre_py.image.signing import trusted_keys, verify

    key_id = verify(_store(), args.ref, trusted_keys(args.key or None))
    sys.stdout.write(f"Verified: {args.ref} signed by key {key_id}\n")
    return exit_codes.SUCCESS


def cmd_key_generate(args: argparse.Namespace) -> int:
    from ocre_py.image.signing import generate_key

    pair = generate_key(args.name, force=args.force, password=_key_password())
    sys.stdout.write(f"{pair.private_path}\n{pair.public_path}\n")
    return exit_codes.SUCCESS


def cmd_key_import(args: argparse.Namespace) -> int:
    from ocre_py.image.signing import import_key

    pair = import_key(args.name, args.file, force=args.force, password=_key_password())
    for path in (pair.private_path, pair.public_path):
        if path is not None:
            sys.stdout.write(f"{path}\n")
    return exit_codes.SUCCESS


def cmd_key_show(args: argparse.Namespace) -> int:
    from ocre_py.image.signing import key_file, load_public_key, public_pem

    sys.stdout.write(public_pem(load_public_key(key_file(args.name, ".pub"))).decode())
    return exit_codes.SUCCESS


def cmd_trust_show(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.image.trust import config_path, load_policy

    policy = load_policy()
    row = {"require-signature": policy.require_signature, "config": str(config_path())}
    if args.json:
        print_json(row)
    else:
        sys.stdout.write(
            f"require-signature: {'on' if policy.require_signature else 'off'} ({row['config']})\n"
        )
    return exit_codes.SUCCESS


def cmd_trust_set(args: argparse.Namespace) -> int:
    from ocre_py.image.trust import set_require_signature

    path = set_require_signature(args.value == "on")
    sys.stdout.write(f"require-signature: {args.value} ({path})\n")
    return exit_codes.SUCCESS


def cmd_key_ls(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table
    from ocre_py.image.signing import default_key_dir, key_id, load_public_key

    directory = default_key_dir()
    rows = []
    for pub in sorted(directory.glob("*.pub")) if directory.is_dir() else []:
        private = pub.with_suffix(".key")
        rows.append({"name": pub.stem, "key_id": key_id(load_public_key(pub)), "private": private.is_file()})
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["NAME", "KEY ID", "PRIVATE"],
            [[r["name"], r["key_id"], "yes" if r["private"] else "no"] for r in rows],
        )
    return exit_codes.SUCCESS


def cmd_login(args: argparse.Namespace) -> int:
    from ocre_py.errors import InvalidInput
    from ocre_py.image.auth import save_credentials
    from ocre_py.image.registry import Registry

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.password is not None:
        password = args.password
    else:
        raise InvalidInput("no password given", hint="use --password-stdin (or -p)")
    Registry(args.host, insecure=args.insecure, credentials=(args.username, password)).ping()
    path = save_credentials(args.host, args.username, password)
    sys.stdout.write(f"Login Succeeded ({path})\n")
    return exit_codes.SUCCESS


def cmd_logout(args: argparse.Namespace) -> int:
    from ocre_py.errors import NotFound
    from ocre_py.image.auth import remove_credentials

    if not remove_credentials(args.host):
        raise NotFound(f"no credentials stored for {args.host}")
    sys.stdout.write(f"Removed credentials for {args.host}\n")
    return exit_codes.SUCCESS

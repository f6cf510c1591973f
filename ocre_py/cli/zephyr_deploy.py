"""``west ocre deploy`` / ``ocre zephyr deploy``: containers into a storage partition, a board or Linux."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ocre_py.cli import exit_codes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="put containers on a board, QEMU, native_sim or the local Linux runtime",
        description=(
            "Pack containers into the device's LittleFS storage partition and flash only the erase blocks "
            "that changed; with no board, import them into the local Linux runtime and run them."
        ),
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="a .wasm file or an image reference")
    p.add_argument("-n", "--name", metavar="NAME", help="container name (one IMAGE only)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V", help="environment entry")
    p.add_argument("-k", "--cap", action="append", default=[], metavar="CAP", help="grant a capability")
    p.add_argument(
        "-a",
        "--arg",
        action="append",
        default=[],
        metavar="ARG",
        help="container argument (repeat, in order)",
    )
    p.add_argument("--autostart", action="store_true", help="start the container(s) at boot")
    p.add_argument("--replace", action="store_true", help="start from an empty partition (drop other images)")
    target = p.add_argument_group("target (default: the local Linux runtime)")
    target.add_argument("-b", "--board", metavar="BOARD", help="board target, e.g. b_u585i_iot02a")
    target.add_argument("-d", "--build-dir", type=Path, metavar="DIR", help="a Zephyr build of the Ocre app")
    target.add_argument("--qemu", action="store_true", help="write the image for 'run' on QEMU")
    target.add_argument("--native-sim", action="store_true", help="write flash.bin for native_sim")
    target.add_argument("-o", "--output", type=Path, metavar="FILE|DIR", help="only write the image files")
    flash = p.add_argument_group("flashing")
    flash.add_argument("--merged", action="store_true", help="flash zephyr.hex + storage as one merged.hex")
    flash.add_argument("--runner", metavar="RUNNER", help="flash storage.hex with this west runner")
    flash.add_argument("--full", action="store_true", help="rewrite every block, not only the changed ones")
    flash.add_argument("--probe", metavar="ID", help="debug probe unique ID (pyocd)")
    flash.add_argument(
        "--medium", metavar="MEDIUM", help="storage medium from the board data (internal/external)"
    )
    p.add_argument(
        "--profile", choices=["full", "tiny"], default="full",
        help="tiny: pack a flash bundle for the tiny firmware (every container starts at boot, in order; "
        "the RAM/flash budget is checked and printed first; docs/tiny.md)",
    )  # fmt: skip
    p.add_argument(
        "--list", nargs="?", const="", default=None, metavar="FILE", help="list a partition's containers"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="write nothing, flash nothing; show what would happen"
    )
    p.add_argument(
        "--require-signature",
        action="store_true",
        help="refuse images not signed by a trusted key (also: ocre trust set require-signature on)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_deploy)


def _request(args: argparse.Namespace):
    from ocre_py.zephyr.deploy import DeployRequest

    tiny = getattr(args, "profile", "full") == "tiny"
    return DeployRequest(
        sources=list(args.images),
        name=args.name,
        env=list(args.env),
        capabilities=list(args.cap),
        args=list(args.arg),
        autostart=args.autostart or tiny,  # the bundle starts every container at boot
        replace=args.replace,
        board=args.board,
        build_dir=args.build_dir,
        qemu=args.qemu,
        native_sim=args.native_sim,
        output=args.output,
        merged=args.merged,
        runner=args.runner,
        full=args.full,
        probe=args.probe,
        medium=args.medium,
        format="bundle" if tiny else "littlefs",
        dry_run=args.dry_run,
        require_signature=args.require_signature,
    )


def cmd_deploy(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import Progress, print_json

    req = _request(args)
    if args.list is not None:
        return _list(args, req)
    from ocre_py.zephyr.deploy import choose_target, deploy

    if req.format == "bundle" and not args.list:
        from ocre_py.zephyr.tiny import check_deploy, render_table

        table = render_table(check_deploy(req))  # refuses with the numbers before anything is written
        if not args.json:
            sys.stdout.write(table)
    if choose_target(req) == "linux" and not req.dry_run:
        client = _local_daemon()
        if client is not None:  # a daemon owns this machine's containers: start them detached there
            return _deploy_to_daemon(client, req, args)
    with Progress("packing") as progress:
        result = deploy(req, progress=progress)
    if args.json:
        print_json(result.to_dict())
        return result.exit_code or 0
    if choose_target(req) == "linux":
        if result.container_id and not args.dry_run:
            sys.stderr.write(f"container {result.container_id} exited with code {result.exit_code}\n")
        return result.exit_code or 0
    _show(result)
    return exit_codes.SUCCESS


def _local_daemon() -> Any:
    """The daemon at ``$OCRE_HOST`` (or the default socket) if one answers, else None."""
    from ocre_py.daemon.client import DaemonClient, is_reachable

    client = DaemonClient.connect()
    return client if is_reachable(client) else None


def _deploy_to_daemon(client: Any, req: Any, args: argparse.Namespace) -> int:
    """Upload each image to the daemon and start it detached; print the IDs (Docker's ``run -d``)."""
    from ocre_py.cli.container import create_request
    from ocre_py.cli.daemon import upload_image
    from ocre_py.cli.output import print_json
    from ocre_py.errors import InvalidInput
    from ocre_py.zephyr.deploy import resolve_sources

    if req.name and len(req.sources) > 1:
        raise InvalidInput.field(None, "-n", req.name, "one IMAGE (a name names one container)")
    started = []
    for source in resolve_sources(req.sources, require_signature=req.require_signature):
        image = upload_image(client, str(source.path), source.image_name)["name"]
        options = argparse.Namespace(
            name=req.name, runtime=None, label=[], args=list(req.args), env=list(req.env),
            cap=list(req.capabilities), volume=[], memory=None, timeout=None, cpu_budget=None, restart="no",
        )  # fmt: skip
        request = create_request(options)
        request["image"] = image
        started.append(client.create(request, start=True)["id"])
    if args.json:
        print_json({"target": "linux-daemon", "daemon": str(client.address), "containers": started})
    else:
        sys.stdout.write("".join(f"{cid}\n" for cid in started))
    return exit_codes.SUCCESS


def _show(result) -> None:
    from ocre_py.cli.output import print_table
    from ocre_py.units import format_size

    g = result.geometry or {}
    out = sys.stdout
    if g:
        out.write(
            f"storage partition {g['address']:#x}, {format_size(g['size'])}, "
            f"{g['erase_block']}-byte blocks (from {g['source']})\n"
        )
    print_table(
        ["IMAGE", "SIZE", "AUTOSTART", "SHA256"],
        [
            [i["name"], i["size"], "yes" if i.get("autostart") else "", i.get("sha256", "")[:12]]
            for i in result.images
        ],
    )
    if result.used_bytes is not None and g:
        out.write(f"used {result.used_bytes} of {g['size']} bytes\n")
    for kind, path in result.files.items():
        out.write(f"wrote {kind}: {path}\n")
    if result.flash:
        f = result.flash
        out.write(
            f"flashed {f['blocks_changed']} of {f['blocks_total']} blocks at {f['address']:#x}: "
            f"{f['bytes_erased']} bytes erased, {f['bytes_written']} written, {f['bytes_skipped']} skipped\n"
        )
    if result.command:
        import shlex

        out.write(("would run: " if not result.flash else "ran: ") + shlex.join(result.command) + "\n")


def _list(args: argparse.Namespace, req) -> int:
    from ocre_py.cli.output import print_json, print_table
    from ocre_py.zephyr import deploy as dep
    from ocre_py.zephyr.partition import detect_geometry

    if args.list:
        path = Path(args.list)
        from ocre_py.zephyr.tiny import is_bundle_file

        if is_bundle_file(path):  # a tiny-profile bundle: self-describing, bounded by the partition
            from ocre_py.zephyr.bundle import BundleFormat

            geo = dep.resolve_geometry(req) if (req.board or req.build_dir) else None
            images = BundleFormat().list(path.read_bytes(), geo, source=str(path))
        elif req.board or req.build_dir:
            images = dep.list_partition(path, geometry=dep.resolve_geometry(req))
        else:
            from ocre_py.errors import InvalidInput

            if not path.is_file():
                raise InvalidInput.field(None, "partition image", str(path), "an existing file")
            geometry = detect_geometry(path.read_bytes(), source=str(path))
            images = dep.list_partition(path, geometry=geometry)
    else:
        images = dep.list_device(req)
    if args.json:
        print_json(images)
    else:
        print_table(
            ["IMAGE", "SIZE", "AUTOSTART", "SHA256"],
            [[i["name"], i["size"], "yes" if i["autostart"] else "", i["sha256"][:12]] for i in images],
        )
    return exit_codes.SUCCESS

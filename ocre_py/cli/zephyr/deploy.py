"""``west ocre deploy`` / ``ocre zephyr deploy``: containers into a storage partition, a board or Linux."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ocre_py.cli import exit_codes

if TYPE_CHECKING:
    from ocre_py.zephyr.deploy import DeployRequest, DeployResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _request(args: argparse.Namespace) -> DeployRequest:
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
    import ocre_py.daemon.linux_deploy  # noqa: F401  (registers the "linux" target: no board given)
    from ocre_py.cli.output import Progress, print_json
    from ocre_py.zephyr.deploy import deploy

    req = _request(args)
    if args.list is not None:
        return _list(args, req)
    with Progress("packing") as progress:
        result = deploy(req, progress=progress)
    if args.json:
        print_json(result.to_dict())
        return result.exit_code or 0
    if result.budget and "table" in result.budget:
        sys.stdout.write(str(result.budget["table"]))  # the tiny profile's flash/RAM table
    if result.target == "linux-daemon":
        sys.stdout.write("".join(f"{cid}\n" for cid in result.containers))  # Docker's run -d: the IDs
        return exit_codes.SUCCESS
    if result.target == "linux":
        if result.container_id and not args.dry_run:
            sys.stderr.write(f"container {result.container_id} exited with code {result.exit_code}\n")
        return result.exit_code or 0
    _show(result)
    return exit_codes.SUCCESS


def _show(result: DeployResult) -> None:
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


def _list(args: argparse.Namespace, req: DeployRequest) -> int:
    from ocre_py.cli.output import print_json, print_table
    from ocre_py.zephyr import deploy as dep

    images = dep.list_file(Path(args.list), req) if args.list else dep.list_device(req)
    if args.json:
        print_json(images)
    else:
        print_table(
            ["IMAGE", "SIZE", "AUTOSTART", "SHA256"],
            [[i["name"], i["size"], "yes" if i["autostart"] else "", i["sha256"][:12]] for i in images],
        )
    return exit_codes.SUCCESS

"""20 concurrent CLI clients creating and removing containers: nothing lost, nothing duplicated."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ocre_py.daemon import Daemon

from .conftest import OCRE

# Each client is one `ocre` process running several CLI commands in-process (an interpreter start
# per command would cost the shared CI machine a minute of CPU): two named containers, one with a
# generated ID, then it removes one of the named ones.
CLIENT = """
import sys
from ocre_py.cli.main import main
i, image = sys.argv[1], sys.argv[2]
codes = [main(["create", "-n", f"c{i}-a", image]), main(["create", "-n", f"c{i}-b", image]),
         main(["create", image]), main(["rm", f"c{i}-b"]),
         main(["create", "-n", "contested", image])]
print("codes", *codes, file=sys.stderr)
sys.exit(0 if codes[:4] == [0, 0, 0, 0] else 1)
"""


def test_twenty_concurrent_clients(daemon: Daemon, examples: dict[str, Path], home: Path) -> None:
    import os

    image = examples["hello"]
    env = {**os.environ}

    def client(i: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OCRE[0], "-c", CLIENT, str(i), str(image)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(client, range(20)))
    for r in results:
        assert r.returncode == 0, r.stderr
    generated = [r.stdout.splitlines()[2] for r in results]
    ids = [c["id"] for c in daemon.containers()]
    assert len(ids) == len(set(ids)), "duplicated container"
    expected = {f"c{i}-a" for i in range(20)} | set(generated) | {"contested"}
    assert set(ids) == expected, "lost or extra containers"
    # Exactly one client won the contested name; the others got a clear conflict.
    contested = [r.stderr for r in results if "container ID 'contested' is already in use" in r.stderr]
    assert len(contested) == 19
    daemon.store.flush()  # records are group-committed every 20 ms
    records = sorted(p.stem for p in (home / "state" / "containers").glob("*.json"))
    assert records == sorted(expected)

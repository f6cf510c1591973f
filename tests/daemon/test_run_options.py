"""``ocre run`` takes the daemon's options (-H, --restart, -l) with -d, and refuses them without."""

from __future__ import annotations

from ocre_py.daemon import DaemonClient


def test_run_detached_with_explicit_host_and_policy(daemon, home, examples, ocre_cli, monkeypatch) -> None:
    monkeypatch.delenv("OCRE_HOST")  # only -H says where the daemon is
    host = f"unix://{home / 'ocre.sock'}"
    r = ocre_cli("run", "-d", "-H", host, "-n", "blink", "--restart", "on-failure:2", "-l", "team=a",
                 "-k", "ocre:api", examples["blinky"], "0", "50")  # fmt: skip
    assert r.code == 0 and r.out == "blink\n", r.err
    info = DaemonClient.connect(host).inspect("blink")
    assert (
        info["status"] == "RUNNING"
        and info["restart_policy"] == "on-failure:2"
        and info["labels"] == {"team": "a"}
    )
    assert ocre_cli("kill", "-H", host, "blink").code == 0


def test_require_signature_applies_to_detached_runs(daemon, examples, ocre_cli) -> None:
    r = ocre_cli("run", "-d", "--require-signature", examples["hello"])
    assert r.code == 2 and "signed image" in r.err


def test_daemon_options_need_detach(examples, ocre_cli) -> None:
    r = ocre_cli("run", "--restart", "always", "-l", "x=y", examples["hello"])
    assert r.code == 2 and "--restart, -l apply only with -d" in r.err

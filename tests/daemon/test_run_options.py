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


def test_create_honours_the_signature_policy(daemon, examples, ocre_cli) -> None:
    """Issue 13 item 1: ``create`` (and ``container create``) took an unsigned image that ``start`` ran."""
    assert ocre_cli("image", "build", "-t", "hello:1", examples["hello"]).code == 0
    assert ocre_cli("key", "generate", "dev").code == 0
    for verb in (("create",), ("container", "create")):
        r = ocre_cli(*verb, "--require-signature", "hello:1")
        assert r.code == 1 and "is not signed; refusing it (--require-signature)" in r.err, r.err
        bare = ocre_cli(*verb, "--require-signature", examples["hello"])
        assert bare.code == 2 and "a signed image from the store" in bare.err
    assert ocre_cli("ps", "-a").out.count("\n") <= 1  # nothing was created
    assert ocre_cli("trust", "set", "require-signature", "on").code == 0
    policy = ocre_cli("create", "hello:1")  # no flag: the workdir's policy
    assert policy.code == 1 and "require-signature in" in policy.err
    assert ocre_cli("image", "sign", "hello:1", "--key", "dev").code == 0
    created = ocre_cli("create", "-n", "signed", "hello:1")
    assert created.code == 0 and created.out == "signed\n", created.err
    assert ocre_cli("start", "signed").code == 0

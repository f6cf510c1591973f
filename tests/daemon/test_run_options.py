"""``ocre run`` takes the daemon's options (-H, --restart, -l) with -d, and refuses them without."""

from __future__ import annotations

import subprocess
import sys

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


def test_detached_and_attached_runs_apply_the_image_config_alike(daemon, examples, ocre_cli) -> None:
    """Issue 12: ``ocre run -d IMAGE`` dropped the image's own args, env, capabilities and memory
    limit that ``ocre run IMAGE`` applies. One resolver and one merge now serve both."""
    r = ocre_cli("image", "build", "-t", "cfg:1", examples["hello"], "--arg", "configured",
                 "-e", "GREETING=Howdy", "-k", "ocre:api", "--memory", "2M")  # fmt: skip
    assert r.code == 0, r.err
    cid = ocre_cli("run", "-d", "cfg:1").out.strip()
    assert ocre_cli("wait", cid).out == "0\n"
    info = DaemonClient.connect().inspect(cid)
    assert info["args"] == ["configured"] and "GREETING=Howdy" in info["env"]
    assert "ocre:api" in info["capabilities"] and info["memory_limit"] == 2 * 1024 * 1024
    assert "Howdy, configured! powered by Ocre" in ocre_cli("logs", cid).out
    attached = subprocess.run(
        [sys.executable, "-m", "ocre_py", "run", "cfg:1"], capture_output=True, text=True
    )
    assert attached.returncode == 0 and "Howdy, configured! powered by Ocre" in attached.stdout
    explicit = ocre_cli("run", "-d", "-e", "GREETING=Yo", "cfg:1", "there").out.strip()
    assert ocre_cli("wait", explicit).out == "0\n"
    assert "Yo, there! powered by Ocre" in ocre_cli("logs", explicit).out  # given options win

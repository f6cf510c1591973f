"""The fleet member protocol on MQTT: the topic schema, the message formats and their bounds.

Everything a fleet knows travels through an MQTT broker as JSON, so any MQTT 3.1.1 client can be a
member — the daemon's agent here, the simulated members of the benchmark, and later a Zephyr MQTT
client in firmware (docs/fleet.md lists what a 256 KB device implements). The broker is the
distributed engine: retained messages are the fleet's state (a broker restart or a member that
was offline gets them back on subscribing), Last Will messages mark members offline, and
clustered brokers scale it out. Nothing here talks to a broker; this module only names topics and
checks messages, bounded before they are parsed.

Topics, under ``ocre/v1/<fleet>/``:

=====================================  =========  ===============================================
``devices/<device>/presence``          retained   ``{"online": bool, "ts"}``; the Will says false
``devices/<device>/state``             retained   labels, containers, per-deployment progress
``deployments/<name>``                 retained   the desired state; an empty payload deletes it
``bus/<topic>``                        QoS 1      bridged container messages (``Envelope``)
``control/<client>``                   QoS 1      a control tool's own echo: the retained burst
                                                  it subscribed to has all arrived before it
=====================================  =========  ===============================================
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ocre_py.errors import InvalidInput
from ocre_py.names import is_short_name

T = TypeVar("T")

PROTOCOL = "ocre-fleet/1"
ROOT = "ocre/v1"

#: Bounds a member applies before parsing anything it receives; a device with 256 KB of RAM can
#: hold one message of each kind at these sizes (docs/fleet.md).
MAX_MESSAGE = 64 * 1024
MAX_DEPLOYMENTS = 64  # per fleet, as a member tracks them
#: What a reader of the whole fleet (``ocre fleet``, the fleet view) keeps at most: past these, a
#: client publishing device IDs or deployment names cannot grow a reader's memory; the reader counts
#: what it refused. More deployments than a member tracks, so a reader shows the extra ones too.
MAX_FLEET_DEVICES = 5000
MAX_FLEET_DEPLOYMENTS = 1024
MAX_CONTAINERS = 256  # listed in one state message
MAX_LABELS = 32
MAX_LABEL_TEXT = 63
MAX_LIST = 64  # args, env, capabilities, bridge prefixes
MAX_TEXT = 1024  # one arg, env entry, image reference, error text
MAX_BUS_PAYLOAD = 64 * 1024  # the local messaging bound (runtime.messaging.MAX_PAYLOAD)
#: A bus message (an :class:`Envelope`) has its own bound: MAX_BUS_PAYLOAD grows by a third in
#: base64, and its origin and content type (MAX_TEXT characters each, which JSON may escape to six
#: bytes a character) come with it. Everything else on the broker stays within MAX_MESSAGE.
MAX_ENVELOPE = 4 * -(-MAX_BUS_PAYLOAD // 3) + 16 * 1024
#: What the broker should refuse from any client (mosquitto's ``max_packet_size``, docs/fleet.md):
#: every packet of the protocol fits, a bus envelope on the longest topic included. The bounds above
#: keep a reader from parsing more; this one keeps paho, which takes in a whole packet before anyone
#: sees its size (MQTT 3.1.1 lets a packet be 256 MB), from reading more in the first place.
MAX_PACKET = 128 * 1024

# Names that become one topic level: no '/', '+', '#', no leading '.', short enough for a device.
NAME_MAX = 63
NAME_RULE = "1-63 of [a-z0-9_.-], starting with a letter or digit"
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,62}")

# Container, presence and deployment states a member reports.
#: ``held``: its rollout batch waits for the one before; ``stopped``: the rollout stopped on an
#: earlier batch's failures (reconcile.gate).
STATES = ("pending", "pulling", "starting", "running", "exited", "failed", "held", "stopped")


def keep(mapping: dict[str, T], name: str, value: T, limit: int, what: str) -> None:
    """``mapping[name] = value``, unless ``name`` is new and ``mapping`` holds ``limit`` names
    already: then :class:`InvalidInput`, and ``mapping`` is unchanged."""
    if name not in mapping and len(mapping) >= limit:
        raise InvalidInput(f"{what} {name}: over the bound of {limit}")
    mapping[name] = value


def check_fleet_name(value: object, what: str) -> str:
    """A device ID, deployment or fleet name: one topic level a firmware can store as-is."""
    if not isinstance(value, str) or not is_short_name(value, NAME_MAX):
        raise InvalidInput.field(None, what, value, NAME_RULE)
    return value


# ---- topics ---------------------------------------------------------------------------------
def base(fleet: str) -> str:
    return f"{ROOT}/{fleet}"


def presence_topic(fleet: str, device: str) -> str:
    return f"{ROOT}/{fleet}/devices/{device}/presence"


def state_topic(fleet: str, device: str) -> str:
    return f"{ROOT}/{fleet}/devices/{device}/state"


def device_topics(fleet: str, device: str) -> tuple[str, str]:
    """A device's presence and state topics: what a member following it subscribes to."""
    return presence_topic(fleet, device), state_topic(fleet, device)


def deployment_topic(fleet: str, name: str) -> str:
    return f"{ROOT}/{fleet}/deployments/{name}"


def bus_topic(fleet: str, topic: str) -> str:
    return f"{ROOT}/{fleet}/bus/{topic}"


def control_topic(fleet: str, client: str) -> str:
    """A control tool's echo topic: the broker delivers a subscription's retained messages before
    anything published after the SUBACK, so the echo coming back ends the retained burst."""
    return f"{ROOT}/{fleet}/control/{client}"


def devices_filter(fleet: str) -> str:
    """Every member's presence and state."""
    return f"{ROOT}/{fleet}/devices/+/+"


def deployments_filter(fleet: str) -> str:
    return f"{ROOT}/{fleet}/deployments/+"


def bus_filter(fleet: str, prefix: str) -> str:
    """The MQTT filter that covers a local messaging prefix. Local prefixes match by string (spec
    2.5: ``sens`` matches ``sensor/t``), MQTT filters by level, so a prefix that does not end a
    level subscribes to the level above and the receiver filters (:func:`bus_local_topic`)."""
    head, _, _ = prefix.rpartition("/")
    return f"{ROOT}/{fleet}/bus/{head + '/' if head else ''}#"


def parse_topic(fleet: str, topic: str) -> tuple[str, str, str] | None:
    """``(kind, name, leaf)`` for a fleet topic: ``("devices", "d1", "state")``,
    ``("deployments", "hello", "")``, ``("bus", "", "sensor/t")``; None for anything else."""
    prefix = f"{ROOT}/{fleet}/"
    if not topic.startswith(prefix):
        return None
    rest = topic[len(prefix) :]
    kind, _, tail = rest.partition("/")
    if kind == "bus" and tail:
        return ("bus", "", tail)
    if kind == "deployments" and is_short_name(tail, NAME_MAX):
        return ("deployments", tail, "")
    if kind == "devices":
        name, _, leaf = tail.partition("/")
        if is_short_name(name, NAME_MAX) and leaf in ("presence", "state"):
            return ("devices", name, leaf)
    return None


def bound(kind: str) -> int:
    """The size a message of this kind of topic (:func:`parse_topic`) is refused unread past."""
    return MAX_ENVELOPE if kind == "bus" else MAX_MESSAGE


def bridgeable(topic: str) -> bool:
    """A local topic the bus can carry: MQTT forbids wildcards and NUL in a published topic."""
    return bool(topic) and not any(c in topic for c in "+#\0") and len(topic.encode()) <= MAX_TEXT


# ---- messages -------------------------------------------------------------------------------
def encode(message: dict[str, Any], limit: int = MAX_MESSAGE) -> bytes:
    data = json.dumps(message, separators=(",", ":"), sort_keys=True).encode()
    if len(data) > limit:
        raise InvalidInput(f"fleet message of {len(data)} bytes is over the {limit}-byte bound")
    return data


def decode(payload: bytes, what: str, limit: int = MAX_MESSAGE) -> dict[str, Any]:
    """A JSON object from the broker, refused unread past ``limit`` bytes."""
    if len(payload) > limit:
        raise InvalidInput(f"{what}: {len(payload)} bytes, over the {limit}-byte bound")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def presence(online: bool) -> bytes:
    return encode({"online": online, "ts": round(time.time(), 3)})


def _str(data: dict[str, Any], key: str, what: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise InvalidInput.field(None, f"{what}.{key}", value, f"a string of 1-{MAX_TEXT} characters")
    return value


def _strings(data: dict[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST
        or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value)
    ):
        raise InvalidInput.field(None, f"{what}.{key}", value, f"a list of at most {MAX_LIST} strings")
    return tuple(value)


def check_labels(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_LABELS:
        raise InvalidInput.field(None, what, value, f"a mapping of at most {MAX_LABELS} labels")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not _LABEL_KEY.fullmatch(k):
            raise InvalidInput.field(None, f"{what} key", k, "1-63 of [A-Za-z0-9_./-]")
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise InvalidInput.field(None, f"{what}.{k}", v, "a string")
        text = str(v)
        if len(text) > MAX_LABEL_TEXT:
            raise InvalidInput.field(None, f"{what}.{k}", text, f"at most {MAX_LABEL_TEXT} characters")
        out[k] = text
    return out


@dataclass(frozen=True)
class Rollout:
    """How a new generation reaches the members it selects.

    ``batch_size`` devices update at once (0: all at once); the next batch starts when every
    device of the previous one runs the new generation, tolerating ``max_unavailable`` of them
    failed or offline. ``ocre fleet apply`` fixes the batches (``Deployment.plan``) from the
    members it sees, so the members coordinate through retained state alone.
    """

    batch_size: int = 0
    max_unavailable: int = 0

    @classmethod
    def from_dict(cls, data: object, what: str) -> Rollout:
        if data is None:
            return cls()
        if not isinstance(data, dict) or set(data) - {"batch_size", "max_unavailable"}:
            raise InvalidInput.field(None, what, data, "a mapping of batch_size and max_unavailable")
        values = []
        for key in ("batch_size", "max_unavailable"):
            v = data.get(key, 0)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100_000:
                raise InvalidInput.field(None, f"{what}.{key}", v, "an integer from 0 to 100000")
            values.append(v)
        return cls(*values)


@dataclass(frozen=True)
class Deployment:
    """One deployment: which image runs, on which members (``selector``), with which options.

    ``generation`` is a digest of everything a member acts on, so applying the same document
    twice changes nothing and any change (image digest, selector, options) is a new generation.
    """

    name: str
    image: str
    selector: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    memory: str | None = None
    restart: str = "no"
    require_signature: bool = False
    bridge: tuple[str, ...] = ()
    rollout: Rollout = Rollout()
    digest: str | None = None  # the manifest digest ``apply`` resolved the image's tag to
    plan: tuple[tuple[str, ...], ...] = ()  # the batches, device IDs in order
    generation: str = ""

    def spec(self) -> dict[str, Any]:
        """What the generation covers: the desired state without the rollout's bookkeeping."""
        return {
            "name": self.name,
            "image": self.image,
            "digest": self.digest,
            "selector": dict(sorted(self.selector.items())),
            "args": list(self.args),
            "env": list(self.env),
            "capabilities": list(self.capabilities),
            "memory": self.memory,
            "restart": self.restart,
            "require_signature": self.require_signature,
            "bridge": list(self.bridge),
        }

    def with_generation(self) -> Deployment:
        blob = json.dumps(self.spec(), sort_keys=True, separators=(",", ":")).encode()
        return replace(self, generation=hashlib.sha256(blob).hexdigest()[:16])

    @property
    def pull_ref(self) -> str:
        """The reference members pull: pinned to the digest ``apply`` resolved, when it did."""
        if not self.digest:
            return self.image
        repo = self.image.split("@", 1)[0]
        last = repo.rsplit("/", 1)
        if ":" in last[-1]:
            repo = repo[: repo.rindex(":")]
        return f"{repo}@{self.digest}"

    def to_message(self) -> dict[str, Any]:
        return {
            **self.spec(),
            "protocol": PROTOCOL,
            "generation": self.generation,
            "rollout": {
                "batch_size": self.rollout.batch_size,
                "max_unavailable": self.rollout.max_unavailable,
            },
            "plan": [list(b) for b in self.plan],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str = "deployment") -> Deployment:
        """Check a deployment (from a file or the broker), each problem one line naming the field."""
        known = set(cls.__dataclass_fields__) | {"protocol"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(
                f"{what}: unknown key '{unknown[0]}': expected one of {', '.join(sorted(known))}"
            )
        name = check_fleet_name(data.get("name"), f"{what}.name")
        what = f"deployment '{name}'"
        restart = data.get("restart", "no")
        if not isinstance(restart, str):
            raise InvalidInput.field(None, f"{what}.restart", restart, "no, always or on-failure[:N]")
        memory = data.get("memory")
        if memory is not None and not isinstance(memory, str | int):
            raise InvalidInput.field(None, f"{what}.memory", memory, "a size such as 1M")
        require = data.get("require_signature", False)
        if not isinstance(require, bool):
            raise InvalidInput.field(None, f"{what}.require_signature", require, "true or false")
        plan = data.get("plan") or []
        if not isinstance(plan, list) or not all(isinstance(b, list) for b in plan):
            raise InvalidInput.field(None, f"{what}.plan", plan, "a list of lists of device IDs")
        batches = tuple(tuple(check_fleet_name(d, f"{what}.plan") for d in b) for b in plan)
        bridge = _strings(data, "bridge", what)
        for prefix in bridge:
            if not bridgeable(prefix):
                raise InvalidInput.field(
                    None, f"{what}.bridge", prefix, "a topic prefix without '+', '#' or NUL"
                )
        digest = _str(data, "digest", what)
        if digest is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise InvalidInput.field(None, f"{what}.digest", digest, "sha256:<64 hex digits>")
        deployment = cls(
            name=name,
            image=_str(data, "image", what, required=True) or "",
            selector=check_labels(data.get("selector"), f"{what}.selector"),
            args=_strings(data, "args", what),
            env=_strings(data, "env", what),
            capabilities=_strings(data, "capabilities", what),
            memory=None if memory is None else str(memory),
            restart=restart,
            require_signature=require,
            bridge=bridge,
            rollout=Rollout.from_dict(data.get("rollout"), f"{what}.rollout"),
            digest=digest,
            plan=batches,
        ).with_generation()
        given = data.get("generation")
        if given is not None and given != deployment.generation:
            raise InvalidInput.field(
                None, f"{what}.generation", given, f"{deployment.generation} (its content's)"
            )
        return deployment

    @classmethod
    def from_message(cls, name: str, payload: bytes) -> Deployment:
        """The retained message of ``deployments/<name>`` (not empty), refused unread past
        :data:`MAX_MESSAGE`; it must name the deployment of its topic."""
        deployment = cls.from_dict(decode(payload, f"deployment {name}"))
        if deployment.name != name:
            raise InvalidInput(f"deployment {name}: its message names '{deployment.name}'")
        return deployment

    def selects(self, labels: dict[str, str]) -> bool:
        """Equality selectors, all of which must hold (Kubernetes' ``matchLabels``)."""
        return all(labels.get(k) == v for k, v in self.selector.items())

    def batch_of(self, device: str) -> int:
        """The device's batch in the plan; a device the plan does not list (it joined after the
        apply) goes last."""
        for i, batch in enumerate(self.plan):
            if device in batch:
                return i
        return len(self.plan)

    def previous_batch(self, device: str) -> tuple[str, ...]:
        """The devices that go before ``device`` in a batched rollout: the batch before its own
        (none in batch 0, or without batches). A member follows their presence and state."""
        if not self.rollout.batch_size or not self.plan:
            return ()
        batch = self.batch_of(device)
        return self.plan[min(batch, len(self.plan)) - 1] if batch > 0 else ()


@dataclass(frozen=True)
class Envelope:
    """A container message on the bus: who sent it and its content type travel with the payload,
    so receivers apply the same payload/content-type semantics as local messaging."""

    origin: str
    topic: str
    content_type: str
    payload: bytes

    def encode(self) -> bytes:
        """The envelope, within :data:`MAX_ENVELOPE`: a UTF-8 payload as text when JSON does not
        make it longer than base64 would (JSON escapes a control or non-ASCII character to six
        bytes), else base64."""
        import base64

        self._check(self.origin, self.content_type, self.payload, self.topic)
        body: dict[str, Any] = {"from": self.origin, "content_type": self.content_type}
        try:
            text: str | None = self.payload.decode()
        except UnicodeDecodeError:
            text = None
        b64_size = 4 * -(-len(self.payload) // 3)
        if text is not None and len(json.dumps(text)) - 2 <= b64_size:
            body["payload"] = text
        else:
            body["payload_b64"] = base64.b64encode(self.payload).decode()
        return encode(body, MAX_ENVELOPE)

    @classmethod
    def decode(cls, topic: str, payload: bytes) -> Envelope:
        """An envelope from the broker, refused unread past :data:`MAX_ENVELOPE`."""
        import base64

        data = decode(payload, f"bus message on {topic}", MAX_ENVELOPE)
        origin, ctype = data.get("from"), data.get("content_type")
        if not isinstance(origin, str) or not isinstance(ctype, str):
            raise InvalidInput(f"bus message on {topic}: expected 'from' and 'content_type' strings")
        if isinstance(data.get("payload"), str):
            body = data["payload"].encode()
        elif isinstance(data.get("payload_b64"), str):
            try:
                body = base64.b64decode(data["payload_b64"], validate=True)
            except ValueError:
                raise InvalidInput(f"bus message on {topic}: payload_b64 is not base64") from None
        else:
            raise InvalidInput(f"bus message on {topic}: expected 'payload' or 'payload_b64'")
        cls._check(origin, ctype, body, topic)
        return cls(origin, topic, ctype, body)

    @staticmethod
    def _check(origin: str, content_type: str, payload: bytes, topic: str) -> None:
        for key, value in (("from", origin), ("content_type", content_type)):
            if not value or len(value) > MAX_TEXT:
                raise InvalidInput(f"bus message on {topic}: '{key}' of 1-{MAX_TEXT} characters expected")
        if not payload or len(payload) > MAX_BUS_PAYLOAD:
            raise InvalidInput(
                f"bus message on {topic}: payload of {len(payload)} bytes (1-{MAX_BUS_PAYLOAD})"
            )

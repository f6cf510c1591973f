"""A minimal fleet member for the view tests: presence with a Will, one state message, then idle.

    python sim_member.py BROKER_URL FLEET DEVICE STATE_JSON

Independent of the member agent on purpose: it speaks the protocol with paho and the protocol
helpers only, as a foreign member (firmware, another implementation) would. It prints ``ready``
once the broker acknowledged both retained messages; kill it with SIGKILL to see the Will.
"""

from __future__ import annotations

import json
import sys
import time

from ocre_py.fleet.broker import BrokerOptions, make_client
from ocre_py.fleet.protocol import encode, presence, presence_topic, state_topic


def main() -> None:
    url, fleet, device, state = sys.argv[1:5]
    client = make_client(
        BrokerOptions(url), f"sim-{device}", will=(presence_topic(fleet, device), presence(False))
    )
    client.connect(*BrokerOptions(url).parts[1:], keepalive=10)
    client.loop_start()
    infos = [
        client.publish(presence_topic(fleet, device), presence(True), qos=1, retain=True),
        client.publish(state_topic(fleet, device), encode(json.loads(state)), qos=1, retain=True),
    ]
    for info in infos:
        info.wait_for_publish(10)
    print("ready", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()

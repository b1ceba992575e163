"""CPU per message in paho's network thread, MQTT v5 against 3.1.1 (the `mqtt.protocol` setting): N QoS 1 readings
queued by `mosquitto_pub -l` on a private Mosquitto (docker/mosquitto.conf), received and acknowledged one by one
as the gateway does (manual acks). The gateway spends about a third of its GIL time in this thread at 5,000
readings/s (py-spy --gil), so this is the share of it the protocol decides. Nothing is asserted.

    python bench/mqtt_client_bench.py [--messages 60000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from testkit.services import mosquitto_process

LINE = json.dumps({"ts": "2025-12-30T22:05:00+08:00", "seq": 1, "readings": {"LAeq": 48.0, "LAmax": 52.0}}) + "\n"


def receive(protocol: int, n: int) -> tuple[float, float]:
    """(messages/s wall, microseconds of this process's CPU per message)."""
    with mosquitto_process() as url:
        port = int(url.rsplit(":", 1)[1])
        count, done = [0], threading.Event()
        extra = {"clean_session": False} if protocol == mqtt.MQTTv311 else {}
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench", protocol=protocol,
                             manual_ack=True, **extra)

        def on_message(c: mqtt.Client, _u: object, m: mqtt.MQTTMessage) -> None:
            count[0] += 1
            c.ack(m.mid, m.qos)
            if count[0] == n:
                done.set()

        client.on_message = on_message
        client.connect("127.0.0.1", port)
        client.subscribe("bench/#", qos=1)
        client.loop_start()
        time.sleep(0.5)
        pub = subprocess.Popen(["mosquitto_pub", "-p", str(port), "-q", "1", "-l", "-t", "bench/a"],
                               stdin=subprocess.PIPE)
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        assert pub.stdin is not None
        pub.stdin.write((LINE * n).encode())
        pub.stdin.close()
        done.wait(300)
        wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        client.loop_stop()
        pub.wait()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return count[0] / wall, cpu / max(1, count[0]) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=60000)
    args = ap.parse_args()
    rows = {name: receive(p, args.messages) for name, p in (("5", mqtt.MQTTv5), ("3.1.1", mqtt.MQTTv311))}
    for name, (rate, us) in rows.items():
        print(f"MQTT {name:>5}: {rate:>9,.0f} messages/s received and acknowledged, {us:6.1f} us CPU per message "
              f"({us / rows['5'][1]:.2f} of v5)")


if __name__ == "__main__":
    main()

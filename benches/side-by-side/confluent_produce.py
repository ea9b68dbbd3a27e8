"""The outside witness for the broker: confluent-kafka's producer (librdkafka) writing records
to a Kafka-compatible broker for a fixed time, as fast as its queue allows, with the same
settings as `fastdata bench log produce`. Prints and writes a report in the load generator's
JSON shape (name, settings, ops, seconds, ops_per_sec, bytes_per_sec, latency rows in µs).

    python confluent_produce.py --bootstrap H:P --topic T --record-size 1024 --acks 1 \
        --linger-ms 5 --batch-size 65536 --duration 10 --warmup 2 --json out.json
"""

import argparse
import json
import random
import string
import sys
import time

from confluent_kafka import Producer


def percentile(sorted_values, q):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--record-size", type=int, default=1024)
    p.add_argument("--acks", default="1")
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=65536)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--json")
    a = p.parse_args()

    value = "".join(random.choice(string.ascii_uppercase) for _ in range(a.record_size)).encode()
    producer = Producer({
        "bootstrap.servers": a.bootstrap,
        "acks": a.acks,
        "linger.ms": a.linger_ms,
        "batch.size": a.batch_size,
        "enable.idempotence": False,
        "queue.buffering.max.kbytes": 65536,
        "compression.type": "none",
    })
    latencies = []
    errors = []
    counted = [0]
    start = time.monotonic()
    measure_from = start + a.warmup
    measure_until = measure_from + a.duration

    def delivered(err, _msg, sent=None):
        now = time.monotonic()
        if err is not None:
            errors.append(str(err))
        elif measure_from <= now <= measure_until:
            counted[0] += 1
            latencies.append(int((now - sent) * 1e6))

    while time.monotonic() < measure_until:
        sent = time.monotonic()
        try:
            producer.produce(a.topic, value, callback=lambda e, m, s=sent: delivered(e, m, s))
        except BufferError:
            producer.poll(0.001)
            continue
        producer.poll(0)
    producer.flush(30)
    seconds = a.duration
    latencies.sort()
    report = {
        "name": "log produce (confluent-kafka)",
        "settings": {
            "client": "confluent-kafka (librdkafka) producer",
            "record size": f"{a.record_size} B",
            "acks": a.acks,
            "linger.ms": str(a.linger_ms),
            "batch.size": str(a.batch_size),
            "compression": "none",
            "pace": "closed loop (the producer's queue full)",
        },
        "ops": counted[0],
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": seconds,
        "ops_per_sec": counted[0] / seconds,
        "bytes_per_sec": counted[0] * a.record_size / seconds,
        "latency": [{
            "kind": "produce",
            "count": len(latencies),
            "mean_us": sum(latencies) / len(latencies) if latencies else 0,
            "p50_us": percentile(latencies, 0.5),
            "p99_us": percentile(latencies, 0.99),
            "p999_us": percentile(latencies, 0.999),
            "max_us": latencies[-1] if latencies else 0,
        }],
    }
    print(json.dumps(report, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()

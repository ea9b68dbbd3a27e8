"""The kafka-python driver of the compatibility tests: produce, consume and group-member
subcommands over kafka-python (pure Python; its codecs lz4, python-snappy, zstandard). The
command line and the JSON lines it prints are described in driver_common.py.
"""

import logging
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

import driver_common as common

# Short enough for a test, long enough for a debug build of the broker.
REQUEST_TIMEOUT_MS = 10000

# How long one poll may block. Not shorter: kafka-python 3.0.12 can lose a rebalance when a
# poll's timeout expires between its JoinGroup and SyncGroup answers (its join task completes
# unawaited once need_rejoin() turns false, so the assignment is never applied and heartbeats
# stay disabled until the session expires); a longer poll makes that window rare.
POLL_TIMEOUT_MS = 1000


def produce(args):
    records = common.read_input(args.input)
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        client_id="fastdata-test-kafka-python",
        compression_type=None if args.compression == "none" else args.compression,
        acks={"all": "all", "1": 1, "0": 0}[args.acks],
        enable_idempotence=not args.no_idempotence,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        delivery_timeout_ms=int(args.timeout_s * 1000),
        max_block_ms=int(args.timeout_s * 1000),
        linger_ms=5,
    )
    futures = [
        producer.send(
            args.topic,
            value=common.encode(r["value"]),
            key=common.encode(r["key"]),
            headers=[(name, common.encode(v)) for name, v in r["headers"]],
        )
        for r in records
    ]
    producer.flush(timeout=args.timeout_s)
    for r, future in zip(records, futures):
        meta = future.get(timeout=args.timeout_s)
        common.emit({"partition": meta.partition, "offset": meta.offset,
                     "key": r["key"], "value": r["value"]})
    producer.close(timeout=args.timeout_s)


def new_consumer(args, group):
    return KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id="fastdata-test-kafka-python",
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS + 1000,
        session_timeout_ms=getattr(args, "session_timeout_ms", 6000),
        heartbeat_interval_ms=max(100, getattr(args, "session_timeout_ms", 6000) // 6),
        max_poll_interval_ms=REQUEST_TIMEOUT_MS,
        fetch_max_wait_ms=100,
        partition_assignment_strategy=assignors(getattr(args, "assignor", "range")),
    )


def assignors(name):
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    by_name = {a.name: a for a in (RangePartitionAssignor, RoundRobinPartitionAssignor,
                                   CooperativeStickyAssignor)}
    return [by_name[name]]


def consume(args):
    consumer = new_consumer(args, args.group)
    deadline = time.monotonic() + args.timeout_s
    if args.group:
        subscribe(consumer, args.topic, deadline)
    else:
        partitions = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(args.topic)
            if not partitions:
                time.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {args.topic} has no partitions in the metadata")
        consumer.assign([TopicPartition(args.topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
    count = 0
    while (args.max is None or count < args.max) and time.monotonic() < deadline:
        batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS,
                                max_records=None if args.max is None else args.max - count)
        offsets = {}
        for tp, messages in batches.items():
            for m in messages:
                common.emit_record(m.partition, m.offset, m.key, m.value, m.headers)
                offsets[tp] = OffsetAndMetadata(m.offset + 1, "", -1)
                count += 1
        if args.group and offsets:
            consumer.commit(offsets)
    consumer.close(autocommit=False)


def subscribe(consumer, topic, deadline, listener=None):
    """Subscribes once the topic's partitions are in the metadata: kafka-python joins with the
    metadata it has, and a first join without them assigns nothing and rebalances again."""
    while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
        time.sleep(0.1)
    if listener is None:
        consumer.subscribe([topic])
    else:
        consumer.subscribe([topic], listener=listener)


class Listener(ConsumerRebalanceListener):
    def __init__(self):
        self.consumer = None

    def on_partitions_revoked(self, revoked):
        gone = {tp.partition for tp in revoked}
        owned = sorted(tp.partition for tp in self.consumer.assignment() if tp.partition not in gone)
        common.emit({"event": "assignment", "partitions": owned})

    def on_partitions_assigned(self, assigned):
        partitions = sorted(tp.partition for tp in self.consumer.assignment())
        common.emit({"event": "assignment", "partitions": partitions})


def member(args):
    stop = common.StopFlag()
    consumer = new_consumer(args, args.group)
    listener = Listener()
    listener.consumer = consumer
    subscribe(consumer, args.topic, time.monotonic() + args.timeout_s, listener)
    while not stop.stopped:
        batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
        offsets = {}
        for tp, messages in batches.items():
            for m in messages:
                common.emit_record(m.partition, m.offset, m.key, m.value, m.headers,
                                   event="record")
                offsets[tp] = OffsetAndMetadata(m.offset + 1, "", -1)
        if offsets:
            try:
                consumer.commit(offsets)
            except Exception as err:  # a rebalance under way: what was not committed comes again
                common.emit({"event": "commit_failed", "error": f"{type(err).__name__}: {err}"})
                continue
            common.emit({"event": "committed",
                         "offsets": {str(tp.partition): o.offset for tp, o in offsets.items()}})
    consumer.close(autocommit=False)
    common.emit({"event": "closed"})


def main():
    if "--debug" in sys.argv:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    else:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    common.run({"produce": produce, "consume": consume, "member": member})


if __name__ == "__main__":
    main()

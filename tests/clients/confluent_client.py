"""The confluent-kafka driver of the compatibility tests: produce, consume and group-member
subcommands over confluent-kafka (librdkafka, the one bundled in its wheel). The command line and
the JSON lines it prints are described in driver_common.py.
"""

import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

import driver_common as common

# The librdkafka contexts --debug turns on.
DEBUG_CONTEXTS = "protocol,broker,cgrp,fetch,topic,msg,eos"


def base_config(args):
    config = {
        "bootstrap.servers": args.bootstrap,
        "client.id": "fastdata-test-confluent",
        "socket.timeout.ms": 10000,
    }
    if args.debug:
        config["debug"] = DEBUG_CONTEXTS
    return config


def produce(args):
    records = common.read_input(args.input)
    config = base_config(args)
    config.update({
        "compression.type": args.compression,
        "acks": args.acks,
        "enable.idempotence": not args.no_idempotence,
        "message.timeout.ms": int(args.timeout_s * 1000),
        "linger.ms": 5,
    })
    producer = Producer(config)
    results = [None] * len(records)

    def delivered(index):
        def callback(err, msg):
            results[index] = (err, msg)
        return callback

    for i, r in enumerate(records):
        producer.produce(
            args.topic,
            value=common.encode(r["value"]),
            key=common.encode(r["key"]),
            headers=[(name, common.encode(v)) for name, v in r["headers"]] or None,
            on_delivery=delivered(i),
        )
        producer.poll(0)
    left = producer.flush(args.timeout_s)
    if left:
        raise RuntimeError(f"{left} records still undelivered after {args.timeout_s} s")
    for r, (err, msg) in zip(records, results):
        if err is not None:
            raise KafkaException(err)
        common.emit({"partition": msg.partition(), "offset": msg.offset(),
                     "key": r["key"], "value": r["value"]})


def new_consumer(args, group, session_timeout_ms=6000, assignor="range"):
    config = base_config(args)
    config.update({
        # librdkafka needs a group id even to assign partitions by hand; nothing is committed
        # to it then.
        "group.id": group or f"fastdata-test-assign-{os.getpid()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(100, session_timeout_ms // 6),
        "partition.assignment.strategy": assignor,
        "fetch.wait.max.ms": 100,
    })
    return Consumer(config)


def check(msg):
    """The message, or None for an error event (printed; fatal ones raise)."""
    err = msg.error()
    if err is None:
        return msg
    if err.fatal():
        raise KafkaException(err)
    print(f"consumer error: {err}", file=sys.stderr, flush=True)
    return None


def consume(args):
    consumer = new_consumer(args, args.group)
    deadline = time.monotonic() + args.timeout_s
    if args.group:
        consumer.subscribe([args.topic])
    else:
        partitions = []
        while not partitions and time.monotonic() < deadline:
            topic = consumer.list_topics(args.topic, timeout=5).topics.get(args.topic)
            if topic is not None and topic.error is None:
                partitions = sorted(topic.partitions)
            else:
                time.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {args.topic} has no partitions in the metadata")
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
    count = 0
    while (args.max is None or count < args.max) and time.monotonic() < deadline:
        msg = consumer.poll(0.1)
        if msg is None or check(msg) is None:
            continue
        common.emit_record(msg.partition(), msg.offset(), msg.key(), msg.value(), msg.headers())
        count += 1
        if args.group:
            consumer.commit(offsets=[TopicPartition(args.topic, msg.partition(), msg.offset() + 1)],
                            asynchronous=False)
    consumer.close()


def member(args):
    stop = common.StopFlag()
    consumer = new_consumer(args, args.group, args.session_timeout_ms, args.assignor)

    # The callbacks run before the binding (incrementally) assigns or unassigns `partitions`,
    # so the assignment they report is the current one plus or minus those; with an eager
    # assignor the current one is empty on assign (everything was revoked first).
    def on_assign(consumer, partitions):
        owned = {tp.partition for tp in consumer.assignment()} | {tp.partition for tp in partitions}
        common.emit({"event": "assignment", "partitions": sorted(owned)})

    def on_revoke(consumer, partitions):
        owned = {tp.partition for tp in consumer.assignment()} - {tp.partition for tp in partitions}
        common.emit({"event": "assignment", "partitions": sorted(owned)})

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop.stopped:
        msgs = consumer.consume(num_messages=100, timeout=0.1)
        offsets = {}
        for msg in msgs:
            if check(msg) is None:
                continue
            common.emit_record(msg.partition(), msg.offset(), msg.key(), msg.value(),
                               msg.headers(), event="record")
            offsets[msg.partition()] = msg.offset() + 1
        if not offsets:
            continue
        try:
            consumer.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in offsets.items()],
                            asynchronous=False)
        except KafkaException as err:  # a rebalance under way: what was not committed comes again
            common.emit({"event": "commit_failed", "error": str(err)})
            continue
        common.emit({"event": "committed", "offsets": {str(p): o for p, o in offsets.items()}})
    consumer.close()
    common.emit({"event": "closed"})


if __name__ == "__main__":
    common.run({"produce": produce, "consume": consume, "member": member})

"""What the Kafka client drivers of the compatibility tests share: their command line, their
input and output formats, and how a group member is told to stop.

Each driver (kafka_python_client.py, confluent_client.py) runs one library through the same
subcommands, which tests/src/clients.rs calls:

  produce --bootstrap H:P --topic T --input FILE [--compression none|gzip|snappy|lz4|zstd]
          [--acks all|1|0] [--no-idempotence] [--timeout-s S]
      FILE holds one JSON object a line: {"key": str|null, "value": str|null,
      "headers": [[name, value], ...]}. Prints one JSON line per acknowledged record, in input
      order: {"partition", "offset", "key", "value"}.
  consume --bootstrap H:P --topic T [--group G] [--max N] [--timeout-s S]
      Prints one JSON line per record: {"partition", "offset", "key", "value", "headers"};
      exits after N records or when S seconds have passed. Without a group, reads every
      partition from the beginning (assign, no commits); with one, subscribes (from the
      committed offsets, else the beginning) and commits what it printed.
  member --bootstrap H:P --topic T --group G [--session-timeout-ms MS] [--assignor NAME]
      A consumer group member until SIGTERM: prints {"event": "assignment", "partitions": [...]}
      (its whole assignment, each time it changes: empty when a rebalance revokes everything), {"event": "record", ...} per record,
      {"event": "committed", "offsets": {"<partition>": next_offset}} after each synchronous
      commit of what it printed, and {"event": "closed"} once it has left the group.

Keys, values and header values are bytes on the wire and UTF-8 text here (invalid bytes are
shown as backslash escapes, so corruption is visible, never fatal). Any failure exits with
status 1 and the error on stderr. --debug turns on the library's own protocol logging (stderr).
"""

import argparse
import json
import signal
import sys
import traceback

COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="A Kafka client driver of the fastdata compatibility tests.")
    parser.add_argument("--debug", action="store_true", help="the library's protocol logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--bootstrap", required=True)
        p.add_argument("--topic", required=True)
        p.add_argument("--timeout-s", type=float, default=30.0)

    produce = sub.add_parser("produce")
    common(produce)
    produce.add_argument("--input", required=True)
    produce.add_argument("--compression", choices=COMPRESSIONS, default="none")
    produce.add_argument("--acks", choices=["all", "1", "0"], default="all")
    produce.add_argument("--no-idempotence", action="store_true")

    consume = sub.add_parser("consume")
    common(consume)
    consume.add_argument("--group")
    consume.add_argument("--max", type=int)

    member = sub.add_parser("member")
    common(member)
    member.add_argument("--group", required=True)
    member.add_argument("--session-timeout-ms", type=int, default=6000)
    member.add_argument("--assignor", default="range")
    return parser.parse_args(argv)


def read_input(path):
    """The records to produce: dicts with key, value (str or None) and headers."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                records.append({
                    "key": r.get("key"),
                    "value": r.get("value"),
                    "headers": [(h[0], h[1]) for h in r.get("headers") or []],
                })
    return records


def encode(text):
    return None if text is None else text.encode("utf-8")


def decode(data):
    if data is None:
        return None
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", errors="backslashreplace")


def emit(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def emit_record(partition, offset, key, value, headers, event=None):
    obj = {
        "partition": partition,
        "offset": offset,
        "key": decode(key),
        "value": decode(value),
        "headers": [[name, decode(v)] for name, v in headers or []],
    }
    if event:
        obj = {"event": event, **obj}
    emit(obj)


class StopFlag:
    """Set by SIGTERM (or SIGINT): a member finishes its poll, commits, leaves and exits."""

    def __init__(self):
        self.stopped = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, _signum, _frame):
        self.stopped = True


def run(commands, argv=None):
    """Parses the command line and runs commands[name](args), exiting 1 on any error."""
    args = parse_args(argv)
    try:
        commands[args.command](args)
    except Exception as err:  # the driver's contract: any failure is exit 1 with the error
        traceback.print_exc()
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        sys.exit(1)

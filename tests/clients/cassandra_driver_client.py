"""The cassandra-driver (DataStax/Apache python-driver) driver of the CQL compatibility tests
(tests/tests/cql_clients.rs, through tests/src/cql_clients.rs). It connects the way an
application does, with no special options (Cluster([host], port=port): protocol negotiation
from DSE_V2 down, schema metadata, token-aware routing), and runs one subcommand:

  info --contact H:P
      Prints one JSON object: {"protocol_version", "release_version", "cql_version",
      "cluster_name", "partitioner", "keyspaces": {ks: [tables...]}, "tokens": N,
      "hosts": ["H:P", ...]}, all from the driver's own metadata.
  run --contact H:P --input FILE
      FILE is a JSON list of steps, each {"cql": str, "values": [...] (optional),
      "prepare": bool (default false), "fetch_size": int|null (default 5000),
      "consistency": "ONE"|"QUORUM"|... (optional), "keyspace": str (optional: a session
      USEing it)}. Values are JSON, with tagged objects for what JSON lacks:
      {"uuid": s}, {"blob": hex}, {"decimal": s}, {"varint": s}, {"timestamp_ms": n},
      {"date": "YYYY-MM-DD"}, {"time_ns": n}, {"inet": s}, {"set": [...]},
      {"map": [[k, v], ...]}, {"tuple": [...]}, {"float": x} (a 32-bit float).
      Prints one JSON line per step: {"columns": [...], "rows": [[rendered values]],
      "pages": n, "routing_key_indexes": [...] (prepared steps), "routing_token": int|null
      (prepared steps with values: the token the driver computed from the bound partition
      key), "error": null} or, for a step the server refused,
      {"error": {"class", "code", "message"}}. Refused steps do not stop the run.

Rendered values are canonical text: null, 'text' (quotes doubled), 0xhex, true/false,
integers and decimals as digits, floats with repr(), uuids, timestamps as
YYYY-MM-DDTHH:MM:SS.mmmZ, dates, times (HH:MM:SS.nnnnnnnnn), inets, [list], {set},
{k: v} maps and (tuples), the elements rendered the same way.

Any failure other than a refused step exits with status 1 and the error on stderr.
--debug turns on the driver's DEBUG logging (stderr).
"""

import argparse
import datetime
import decimal
import ipaddress
import json
import logging
import re
import sys
import traceback
import uuid

from cassandra import AlreadyExists, ConsistencyLevel, DriverException, RequestExecutionException, \
    RequestValidationException
from cassandra.cluster import Cluster
from cassandra.protocol import ErrorMessage
from cassandra.query import SimpleStatement
from cassandra.util import Date, Time, OrderedMapSerializedKey, SortedSet

# Generous for a debug build of the node under a parallel test run.
REQUEST_TIMEOUT_S = 30.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="A CQL driver of the fastdata tests.")
    parser.add_argument("--debug", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info")
    info.add_argument("--contact", required=True)
    run = sub.add_parser("run")
    run.add_argument("--contact", required=True)
    run.add_argument("--input", required=True)
    return parser.parse_args(argv)


def connect(contact):
    host, port = contact.rsplit(":", 1)
    cluster = Cluster([host], port=int(port))
    session = cluster.connect()
    session.default_timeout = REQUEST_TIMEOUT_S
    return cluster, session


def info(args):
    cluster, session = connect(args.contact)
    meta = cluster.metadata
    local = session.execute(
        "SELECT release_version, cql_version, partitioner FROM system.local WHERE key = 'local'"
    ).one()
    token_map = meta.token_map
    emit({
        "protocol_version": cluster.protocol_version,
        "release_version": local.release_version,
        "cql_version": local.cql_version,
        "cluster_name": meta.cluster_name,
        "partitioner": meta.partitioner,
        "keyspaces": {name: sorted(ks.tables) for name, ks in meta.keyspaces.items()},
        "tokens": len(token_map.ring) if token_map else 0,
        "hosts": ["%s:%s" % (h.endpoint.address, h.endpoint.port) for h in meta.all_hosts()],
    })
    cluster.shutdown()


def to_python(v):
    """A JSON step value as the Python value the driver binds."""
    if isinstance(v, list):
        return [to_python(x) for x in v]
    if not isinstance(v, dict):
        return v
    (tag, x), = v.items()
    if tag == "uuid":
        return uuid.UUID(x)
    if tag == "blob":
        return bytes.fromhex(x)
    if tag == "decimal":
        return decimal.Decimal(x)
    if tag == "varint":
        return int(x)
    if tag == "timestamp_ms":
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=x)
    if tag == "date":
        return Date(x)
    if tag == "time_ns":
        return Time(x)
    if tag == "inet":
        return x
    if tag == "set":
        return set(to_python(e) for e in x)
    if tag == "map":
        return {to_python(k): to_python(val) for k, val in x}
    if tag == "tuple":
        return tuple(to_python(e) for e in x)
    if tag == "float":
        return float(x)
    raise ValueError("unknown value tag %r" % tag)


def render(v):
    """The canonical text of a value the driver returned (see the module doc)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (v.microsecond // 1000)
    if isinstance(v, (Date, Time)):
        return str(v)
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    if isinstance(v, (dict, OrderedMapSerializedKey)):
        return "{" + ", ".join("%s: %s" % (render(k), render(x)) for k, x in v.items()) + "}"
    if isinstance(v, (set, frozenset, SortedSet)):
        return "{" + ", ".join(render(x) for x in v) + "}"
    if isinstance(v, tuple):
        return "(" + ", ".join(render(x) for x in v) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    raise TypeError("cannot render %r (%s)" % (v, type(v).__name__))


def run(args):
    with open(args.input, encoding="utf-8") as f:
        steps = json.load(f)
    cluster, session = connect(args.contact)
    sessions = {None: session}
    for step in steps:
        ks = step.get("keyspace")
        if ks not in sessions:
            sessions[ks] = cluster.connect(ks)
            sessions[ks].default_timeout = REQUEST_TIMEOUT_S
        emit(run_step(sessions[ks], step))
    cluster.shutdown()


def run_step(session, step):
    values = [to_python(v) for v in step.get("values", [])]
    fetch_size = step.get("fetch_size", 5000)
    consistency = getattr(ConsistencyLevel, step["consistency"]) if "consistency" in step \
        else None
    out = {"error": None}
    try:
        if step.get("prepare"):
            prepared = session.prepare(step["cql"])
            out["routing_key_indexes"] = prepared.routing_key_indexes
            bound = prepared.bind(values)
            bound.fetch_size = fetch_size
            if consistency is not None:
                bound.consistency_level = consistency
            routing_key = bound.routing_key if values else None
            token_map = session.cluster.metadata.token_map
            out["routing_token"] = token_map.token_class.from_key(routing_key).value \
                if routing_key is not None and token_map else None
            result = session.execute(bound)
        else:
            statement = SimpleStatement(step["cql"], fetch_size=fetch_size)
            if consistency is not None:
                statement.consistency_level = consistency
            result = session.execute(statement, values or None)
        rows, pages = [], 0
        while True:
            pages += 1
            rows.extend([render(x) for x in row] for row in result.current_rows)
            if not result.has_more_pages:
                break
            result.fetch_next_page()
        out["columns"] = list(result.column_names or [])
        out["rows"] = rows
        out["pages"] = pages
    except (RequestValidationException, RequestExecutionException, ErrorMessage) as err:
        out["error"] = error_json(err)
    except DriverException as err:
        out["error"] = {"class": type(err).__name__, "code": None, "message": str(err)}
    return out


def error_json(err):
    """Class, code and server message of a refusal. The driver turns some errors into
    exceptions that keep only 'Error from server: code=2200 [Invalid query] message="..."'
    (InvalidRequest, Unauthorized): code and message are read back from that text."""
    code = getattr(err, "code", None)
    message = getattr(err, "message", None) or str(err)
    m = re.match(r'Error from server: code=([0-9a-fA-F]+) \[[^\]]*\] message="(.*)"$', message,
                 re.S)
    if m:
        code, message = int(m.group(1), 16), m.group(2)
    if code is None and isinstance(err, AlreadyExists):
        code = 0x2400
    return {"class": type(err).__name__, "code": code, "message": message}


def emit(obj):
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr)
    try:
        {"info": info, "run": run}[args.command](args)
    except Exception as err:  # the driver's contract: any failure is exit 1 with the error
        traceback.print_exc()
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

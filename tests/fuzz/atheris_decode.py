"""libFuzzer (atheris) target: coverage-guided bytes into the ingest decoder.

`python atheris_decode.py [libFuzzer options] [CORPUS_DIR]` — run by test_atheris.py with
a time bound. The decoder and the wire contract are instrumented, so libFuzzer steers
towards new branches of the validation. Any exception, or a result that is not exactly
one of rows/status/dead letter with a bounded NUL-free detail, is a crash.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from hubsense.ingest import decode

    from hubsense import wire

from fuzz_cases import INVENTORY, MAX_FUTURE_MS, NOW_MS

TOPICS = [
    "hubsense/v1/hq/pi-a/events",
    "hubsense/v1/hq/pi-a/status",
    "hubsense/v1/hub-1/pi-h/events",
    "hubsense/v1/hq/pi-old/events",
]


def one_input(data: bytes) -> None:
    if not data:
        return
    topic = TOPICS[data[0] % len(TOPICS)]
    payload = data[1:]
    result = decode.decode_message(topic, payload, INVENTORY, NOW_MS, MAX_FUTURE_MS)
    outcomes = bool(result.events) + (result.status is not None) + (result.dead is not None)
    if outcomes != 1:
        raise AssertionError(f"not exactly one outcome: {result!r}")
    if result.dead is not None:
        detail = result.dead.detail
        if not detail or len(detail) > decode.MAX_DETAIL_CHARS or "\x00" in detail:
            raise AssertionError(f"bad detail {detail!r}")
        if result.dead.payload != payload:
            raise AssertionError("dead letter lost the payload")
    for row in result.events:
        if row[0] != wire.parse_topic(topic).node:  # type: ignore[union-attr]
            raise AssertionError(f"row of another node: {row!r}")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

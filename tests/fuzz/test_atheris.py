"""Coverage-guided fuzzing of the ingest decoder with atheris (libFuzzer), bounded in time.

Runs atheris_decode.py in its own process (libFuzzer exits the process when done) for
HUBSENSE_ATHERIS_S seconds (default 30) from a seed corpus of valid and malformed
messages, and fails on any crash it finds (the crashing input is in the log).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
SECONDS = int(os.environ.get("HUBSENSE_ATHERIS_S", "30"))
SEEDS = [
    b'\x00{"node":"pi-a","events":[{"seq":1,"ts":1764000000000,"type":"alive"}]}',
    b'\x00{"node":"pi-a","events":[{"seq":2,"ts":1764000000000,"type":"desk","desk":"d-1",'
    b'"source":"pir","state":"occupied"},{"seq":3,"ts":1764000000001,"type":"stop"}]}',
    b'\x01{"node":"pi-a","online":true,"ts":1764000000000,"version":"0.1.0","uptime_s":1.5,'
    b'"outbox_depth":0,"last_reading_age_s":{"gpio:17":1.0},"cpu_temp_c":40.0}',
    b'\x02{"node":"pi-h","events":[{"seq":1,"ts":1,"type":"desk","desk":"h-1","source":"ble",'
    b'"state":"vacant"}]}',
    b'\x00{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"alive"},{"seq":1,"ts":2,"type":"alive"}]}',
]


def test_atheris_finds_no_crash_in_the_decoder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed-{i}").write_bytes(seed)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "atheris_decode.py"),
            f"-max_total_time={SECONDS}",
            "-max_len=4096",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 120,
        env=env,
        cwd=tmp_path,
    )
    tail = done.stderr[-3000:]
    assert done.returncode == 0, tail
    runs = re.findall(r"Done (\d+) runs", done.stderr)
    assert runs and int(runs[-1]) >= 10_000, tail
    coverage = re.findall(r"cov: (\d+)", done.stderr)
    print(
        f"\natheris: {runs[-1]} runs in {SECONDS} s, coverage {coverage[-1]} edges, "
        f"corpus {len(list(corpus.iterdir()))} inputs"
    )

"""One peer configuration in its own process, measured on command (runs in the peers' venv).

Started by ``client.py``; answers on stdout in JSON lines, one per command read from stdin:

- first, unasked: ``{"ready": true, "precision": ..., "export_seconds": ...}`` once the model is
  exported, loaded and warmed up, or ``{"unsupported": reason}`` (then it exits);
- ``{"run": [image indices], "concurrency": N}`` -> ``{"latencies_ms": [...], "finished_s":
  [...]}`` (each call's time, and when it finished from the run's start): each call is what the
  plain script does (decode the JPEG, processor, ``generate()``), from N threads of this process;
- ``{"quit": true}`` -> exits.

Libraries print to stdout too: the answers keep the original stdout, everything else goes to
stderr (the client's log file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from benchmarks.peers.runtimes import PEERS, Prepared, Unsupported


def _answers() -> IO[str]:
    """The original stdout, for answers only; file descriptor 1 now points at stderr."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answers


def _send(answers: IO[str], message: dict[str, Any]) -> None:
    answers.write(json.dumps(message) + "\n")
    answers.flush()


class Runner:
    """Runs image indices through the peer from persistent thread pools (one per concurrency),
    so that per-thread state such as OpenVINO's inference requests is made once."""

    def __init__(self, prepared: Prepared, photos: list[bytes]) -> None:
        self._prepared = prepared
        self._photos = photos
        self._pools: dict[int, ThreadPoolExecutor] = {}

    def _one(self, index: int) -> tuple[float, float]:
        """The call's milliseconds, and when it finished (``perf_counter``)."""
        caption = self._prepared.caption_in_thread()
        started = time.perf_counter()
        caption(self._photos[index % len(self._photos)])
        finished = time.perf_counter()
        return (finished - started) * 1000, finished

    def run(self, indices: list[int], concurrency: int) -> dict[str, Any]:
        pool = self._pools.setdefault(concurrency, ThreadPoolExecutor(max_workers=concurrency))
        started = time.perf_counter()
        timings = list(pool.map(self._one, indices))
        return {
            "latencies_ms": [latency for latency, _ in timings],
            "finished_s": [finished - started for _, finished in timings],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer", choices=sorted(PEERS), required=True)
    parser.add_argument("--folder", type=Path, required=True, help="the model folder")
    parser.add_argument("--work", type=Path, required=True, help="where exports are kept")
    parser.add_argument("--images", type=Path, required=True, help="folder of numbered JPEGs")
    args = parser.parse_args()
    answers = _answers()
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        prepared = PEERS[args.peer](args.folder, args.work)
    except Unsupported as refusal:
        _send(answers, {"unsupported": str(refusal)})
        return
    except Exception as error:
        traceback.print_exc()
        _send(answers, {"error": f"{type(error).__name__}: {error}"})
        sys.exit(1)
    try:
        photos = [path.read_bytes() for path in sorted(args.images.glob("*.jpg"))]
        runner = Runner(prepared, photos)
        runner.run([len(photos) - 1], 1)  # warm up, on an image no measurement uses first
    except Exception as error:
        traceback.print_exc()
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        _send(answers, {"error": f"{type(error).__name__}: {' '.join(lines[-2:])}"})
        sys.exit(1)
    _send(
        answers,
        {
            "ready": True,
            "precision": prepared.precision,
            "export_seconds": prepared.export_seconds,
        },
    )
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        _send(answers, runner.run(command["run"], command["concurrency"]))


if __name__ == "__main__":
    main()

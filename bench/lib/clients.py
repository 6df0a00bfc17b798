"""A load generator process: opens many websocket clients and records when each pushed frame arrives.

Run as `python -m bench.lib.clients URL COUNT COOKIE ORIGIN FRAMES`; prints one JSON line with the
latencies (milliseconds: receive time minus the server's pre-send stamp carried in the frame).
Both servers stamp with time.monotonic(), which on Linux is one clock for every process.
Every socket stays open until standard input closes; with FRAMES = 0 they only idle (bench/idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import sys
import time

from websockets.asyncio.client import connect

STAMP = re.compile(r'data-t="([0-9.]+)"')
CONNECT_BATCH = 200


async def client(
    url: str,
    cookie: str,
    origin: str,
    frames: int,
    latencies: list[float],
    opened: list[int],
    finished: list[int],
    expected: int,
    all_in: asyncio.Event,
    release: asyncio.Event,
) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    async with connect(
        url,
        origin=origin or None,
        additional_headers=headers,
        proxy=None,
        compression=None,
        max_size=None,
        ping_interval=None,
        open_timeout=60,
    ) as socket:
        opened.append(1)
        if frames == 0:  # idle
            await release.wait()
            return
        seen = 0
        async for message in socket:
            text = message if isinstance(message, str) else message.decode()
            match = STAMP.search(text)
            if match is None:
                continue  # the page's current state, presence, warm-up frames: not measured
            latencies.append((time.monotonic() - float(match.group(1))) * 1000)
            seen += 1
            if seen >= frames:
                break
        # Stay open until every client is done: a socket closing while others still receive
        # would make the last frame's latency a measure of the closing.
        finished.append(1)
        if len(finished) == expected:
            all_in.set()
        await release.wait()


async def main(url: str, count: int, cookie: str, origin: str, frames: int) -> None:
    latencies: list[float] = []
    opened: list[int] = []
    finished: list[int] = []
    release, all_in = asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    for start in range(0, count, CONNECT_BATCH):  # paced, so that the server's backlog never overflows
        tasks += [
            asyncio.create_task(
                client(url, cookie, origin, frames, latencies, opened, finished, count, all_in, release)
            )
            for _ in range(start, min(count, start + CONNECT_BATCH))
        ]
        while len(opened) < min(count, start + CONNECT_BATCH):
            await asyncio.sleep(0.01)
            failed = [t.exception() for t in tasks if t.done() and t.exception()]
            if failed:
                raise failed[0]  # type: ignore[misc]
    print(json.dumps({"ready": True}), flush=True)
    if frames:
        cpu_start = time.process_time()
        wall_start = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 120)
        cpu = time.process_time() - cpu_start
        wall = time.monotonic() - wall_start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"latencies": latencies, "cpu": cpu, "wall": wall, "rss_kib": rss}), flush=True)
    # Hold the sockets until the harness closes our standard input.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    url, count, cookie, origin, frames = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    asyncio.run(main(url, count, cookie, origin, frames))

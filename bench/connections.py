#!/usr/bin/env python3
"""Connection load on one imhotep process: memory and service under many idle and slow sockets.

Starts `imhotep serve` on SQLite (loopback only), creates a user, then opens IDLE keep-alive
connections (each sends one request, reads the answer, and stays open; with --silent they send
nothing) and SLOWLORIS connections
(each sends a request head one header line every 2 s and never finishes it). While they are open it
probes `GET /healthz` and a login on fresh connections, samples the server's RSS, and counts how many
slowloris sockets the server closed. Prints one JSON object; exits non-zero when a probe failed, when
RSS exceeded --max-rss-mb, or when slowloris sockets outlived the header timeout by more than 5 s.

Standard library only. Bounded: --hold seconds of load (default 20), a hard stop at 180 s.
Run it through bench/connections.sh, which raises the descriptor limit first.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "Bench-Horse-Battery-9"
SECRET_KEY = "bench-connections-" + os.urandom(24).hex()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def request(port: int, raw: bytes, timeout: float = 10) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def idle_connection(port: int, held: list, failures: list, silent: bool) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if silent:
            held.append(writer)
            return
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        await writer.drain()
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            chunk = await asyncio.wait_for(reader.read(4096), 30)
            if not chunk:
                raise ConnectionError("closed before answering")
            answer += chunk
        held.append(writer)
    except Exception as error:  # noqa: BLE001 - counted, reported
        failures.append(repr(error))


async def slowloris(port: int, closed_after: list, stop: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        closed_after.append(None)
        return
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n")
    i = 0
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1024), 2)
            if not data:
                closed_after.append(time.monotonic() - started)
                return
        except asyncio.TimeoutError:
            pass
        except OSError:
            closed_after.append(time.monotonic() - started)
            return
        try:
            writer.write(f"X-Slow-{i}: 1\r\n".encode())
            await writer.drain()
        except OSError:
            closed_after.append(time.monotonic() - started)
            return
        i += 1
    writer.close()


async def probe(port: int, results: dict, stop: asyncio.Event) -> None:
    login = json.dumps({"email": "bench@example.com", "password": PASSWORD}).encode()
    login_raw = (b"POST /api/auth/jwt/create/ HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
                 b"Content-Type: application/json\r\nContent-Length: " + str(len(login)).encode() + b"\r\n\r\n" + login)
    n = 0
    while not stop.is_set():
        for name, raw, expect in (("healthz", b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n", b"200"),
                                  ("login", login_raw, b"200")):
            if name == "login" and n % 4:
                continue
            started = time.monotonic()
            try:
                answer = await request(port, raw, timeout=15)
                ok = answer.split(b" ", 2)[1:2] == [expect]
            except Exception:  # noqa: BLE001 - a failed probe is the measurement
                ok = False
            results.setdefault(name, []).append((ok, time.monotonic() - started))
        n += 1
        await asyncio.sleep(0.5)


async def load(args, port: int, pid: int) -> dict:
    stop = asyncio.Event()
    samples: list[float] = []

    async def sample():
        while not stop.is_set():
            samples.append(rss_mb(pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    probes: dict = {}
    prober = asyncio.create_task(probe(port, probes, stop))
    held: list = []
    failures: list = []
    opened = time.monotonic()
    for start in range(0, args.idle, 200):
        await asyncio.gather(*(idle_connection(port, held, failures, args.silent) for _ in range(start, min(start + 200, args.idle))))
    open_seconds = time.monotonic() - opened
    closed_after: list = []
    slow = [asyncio.create_task(slowloris(port, closed_after, stop)) for _ in range(args.slowloris)]
    await asyncio.sleep(args.hold)
    peak_files = open_files(pid)
    rss_loaded = rss_mb(pid)
    stop.set()
    await asyncio.gather(prober, sampler, *slow)
    for writer in held:
        writer.close()
    def summary(name):
        rows = probes.get(name, [])
        latencies = sorted(t for ok, t in rows if ok)
        return {"sent": len(rows), "ok": sum(ok for ok, _ in rows),
                "median_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
                "max_ms": round(1000 * latencies[-1], 1) if latencies else None}
    closed = [t for t in closed_after if t is not None]
    return {
        "idle_requested": args.idle, "idle_held": len(held), "idle_failures": len(failures),
        "idle_failure_examples": failures[:3], "seconds_to_open_idle": round(open_seconds, 1),
        "slowloris": args.slowloris, "slowloris_closed_by_server": len(closed),
        "slowloris_closed_after_s": {"min": round(min(closed), 1), "max": round(max(closed), 1)} if closed else None,
        "server_open_descriptors_under_load": peak_files,
        "rss_mb_under_load": round(rss_loaded, 1), "rss_mb_peak": round(max(samples), 1),
        "healthz": summary("healthz"), "login": summary("login"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "imhotep"))
    parser.add_argument("--idle", type=int, default=8000)
    parser.add_argument("--slowloris", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=20, help="seconds of load after the idle connections are open")
    parser.add_argument("--header-read-timeout", type=int, default=10)
    parser.add_argument("--max-rss-mb", type=float, default=200)
    parser.add_argument("--silent", action="store_true",
                        help="idle connections send nothing (closed at the header timeout) instead of one request")
    args = parser.parse_args()
    signal.alarm(180)
    work = tempfile.mkdtemp(prefix="imhotep-connections-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMHOTEP_")}
    env.update(DEBUG="false", SECRET_KEY=SECRET_KEY, HOST="127.0.0.1", PORT=str(port), RUST_LOG="warn",
               DATABASE_URL=f"sqlite://{work}/bench.db?mode=rwc", EMAIL_BACKEND="smtp",
               EMAIL_HOST="127.0.0.1", EMAIL_PORT="1",
               IMHOTEP_METRICS__BIND="", IMHOTEP_SERVER__HEADER_READ_TIMEOUT=f"{args.header_read_timeout}s")
    subprocess.run([args.binary, "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([args.binary, "createsuperuser", "--email", "bench@example.com", "--password-stdin"],
                   env=env, input=PASSWORD + "\n", text=True, check=True, capture_output=True, cwd=ROOT)
    server = subprocess.Popen([args.binary, "serve"], env=env, cwd=ROOT,
                              stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(request(port, b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"))
        baseline = rss_mb(server.pid)
        result = asyncio.run(load(args, port, server.pid))
        result["rss_mb_baseline"] = round(baseline, 1)
        held = max(result["idle_held"], 1)
        result["kib_per_idle_connection"] = round((result["rss_mb_under_load"] - baseline) * 1024 / held, 1)
        result["binary"] = os.path.relpath(args.binary, ROOT)
        print(json.dumps(result, indent=2))
        problems = []
        for name in ("healthz", "login"):
            if result[name]["sent"] == 0 or result[name]["ok"] != result[name]["sent"]:
                problems.append(f"{name} probes failed: {result[name]}")
        if result["rss_mb_peak"] > args.max_rss_mb:
            problems.append(f"RSS peaked at {result['rss_mb_peak']} MB > {args.max_rss_mb} MB")
        closed = result["slowloris_closed_after_s"]
        if args.hold > args.header_read_timeout + 5 and (
                result["slowloris_closed_by_server"] < args.slowloris
                or closed["max"] > args.header_read_timeout + 5):
            problems.append(f"slowloris sockets outlived the header timeout: {closed}")
        for problem in problems:
            print("FAIL:", problem, file=sys.stderr)
        return 1 if problems else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=35)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The benchmark driver. Start it through bench/run.sh, which installs wrk, builds the binaries and
prepares bench/.venv first; `bash bench/run.sh --help` lists the options.

One run: the limits (raw argon2id and PBKDF2 rates, an axum `{}` server, pgbench), then for each
server (imhotep on PostgreSQL, imhotep on SQLite, the reference Djoser on PostgreSQL) a fresh
database seeded with the same users, the server started, and workloads W1-W6 driven by wrk at the
same concurrency, each after a warm-up; then the scale step (W1, W3 with 1,000,000 users and
1,500,000 token rows). Writes results.json, BENCHMARKS.md and a chart (see report.py).

Standard library only (report.py needs matplotlib for the chart). Every loop and every child
process is bounded in time; traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import statistics
import base64
import csv
import datetime as dt
import hashlib
import hmac
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA = BENCH / "wrk" / "workload.lua"
CEILING_BIN = BENCH / "ceiling" / "target" / "release"
IMHOTEP_BIN = Path(os.environ.get("IMHOTEP_BIN", ROOT / "target" / "release" / "imhotep"))
REFERENCE = Path(os.environ.get("REFERENCE_DIR", ROOT.parent / "shared" / "reference-djoser"))
REF_VENV = Path(os.environ.get("REF_VENV", Path.home() / ".cache" / "reference-djoser-venv"))
PG_HOST = os.environ.get("PGHOST", "127.0.0.1")
PG_PORT = os.environ.get("PGPORT", "5432")
PG_USER = os.environ.get("PGUSER", "postgres")

SECRET_KEY = "imhotep-bench-secret-key-0123456789abcdef0123456789abcdef"
PASSWORD = "Bench-Horse-Battery-7"  # every seeded user's password
TICK = os.sysconf("SC_CLK_TCK")
WORKLOADS = ["w1", "w2", "w3", "w4", "w5", "w6"]
WORKLOAD_TITLES = {
    "w1": "W1 GET users/me/",
    "w2": "W2 POST jwt/verify/",
    "w3": "W3 POST jwt/refresh/ (rotation)",
    "w4": "W4 POST jwt/create/ (login)",
    "w5": "W5 POST users/ (register + mail)",
    "w6": "W6 mix 80/15/4/1",
}
# The per-client rate limits set out of reach (every workload comes from one address): the limiter
# still runs on every request, as deployed, but never refuses one. The account backoff and e-mail
# limits keep their defaults (W4 logs in successfully, which resets its account's counter).
THROTTLE_OUT_OF_REACH = {f"IMHOTEP_THROTTLE__{group}": "1000000000/s"
                         for group in ("LOGIN", "REFRESH", "SIGNUP", "EMAIL", "CONFIRM")}
# Share of requests that consume a fresh refresh token.
REFRESH_SHARE = {"w3": 1.0, "w6": 0.15}
# Refresh tokens minted for a warm-up, per second of warm-up: above any rate this machine reaches.
WARMUP_TOKENS_PER_SECOND = 25_000


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Child processes and databases, cleaned up on any exit.

CHILDREN: list[subprocess.Popen] = []
DATABASES: list[str] = []
KEEP_DATABASES = False


def spawn(cmd, *, env=None, cwd=None, log_path: Path | None = None) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    CHILDREN.append(proc)
    return proc


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to the child by its pid, SIGKILL to it if it lingers. gunicorn's master (run.sh
    execs it) stops its own workers on SIGTERM."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def cleanup() -> None:
    for proc in list(CHILDREN):
        try:
            stop_process(proc, 10)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
    if not KEEP_DATABASES:
        for name in list(DATABASES):
            drop_database(name)


def on_signal(signum, _frame):
    log(f"signal {signum}: cleaning up")
    cleanup()
    sys.exit(130)


# ---------------------------------------------------------------------------------------------
# Small helpers: commands, PostgreSQL, /proc.

def run(cmd, *, timeout: float, env=None, cwd=None, input: str | None = None) -> str:
    result = subprocess.run(cmd, env=env, cwd=cwd, input=input, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {result.returncode}:\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def pg_args(db: str) -> list[str]:
    return ["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", db]


def psql(db: str, sql: str, timeout: float = 600) -> str:
    return run(["psql", *pg_args(db), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"],
               input=sql, timeout=timeout)


def pg_url(db: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def create_database(name: str) -> None:
    drop_database(name)
    run(["createdb", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, name], timeout=60)
    DATABASES.append(name)


def drop_database(name: str) -> None:
    try:
        run(["dropdb", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "--if-exists", "--force", name],
            timeout=120)
    except Exception as error:  # noqa: BLE001
        log(f"could not drop database {name}: {error}")
    if name in DATABASES:
        DATABASES.remove(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_stat(pid: int) -> list[str] | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()  # fields from 3 (state) on


def cpu_seconds(pids) -> dict[int, float]:
    out = {}
    for pid in pids:
        fields = proc_stat(pid)
        if fields:
            out[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                kids.append(int(entry.name))
    return sorted(kids)


def memory_kb(pids) -> dict[str, int]:
    """VmRSS and VmHWM summed over `pids`, in KiB."""
    total = {"rss_kb": 0, "hwm_kb": 0, "threads": 0, "pss_kb": 0}
    for pid in pids:
        try:  # PSS counts pages shared between gunicorn's forked workers once in all
            match = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
            total["pss_kb"] += int(match.group(1)) if match else 0
        except OSError:
            pass
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for key, field in (("VmRSS", "rss_kb"), ("VmHWM", "hwm_kb"), ("Threads", "threads")):
            match = re.search(rf"^{key}:\s+(\d+)", status, re.M)
            if match:
                total[field] += int(match.group(1))
    return total


def reset_peak_rss(pids) -> bool:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    ok = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def wait_idle(pids_fn, timeout: float = 120, window: float = 0.5, threshold: float = 0.04) -> float:
    """Waits until the processes `pids_fn()` returns use less than `threshold` CPU-seconds per
    `window` (the previous run's queued requests are done: a closed wrk connection does not stop a
    gunicorn worker, nor a password hash already running). Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pids = pids_fn()
        before = cpu_seconds(pids)
        time.sleep(window)
        if cpu_delta(before, cpu_seconds(pids)) < threshold:
            break
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def http_status(port: int, path: str, timeout: float = 5) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# Tokens: SimpleJWT's HS256 JWTs, minted here with the servers' shared SECRET_KEY.

def b64url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


class Minter:
    HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')

    def __init__(self, key: str):
        self.key = key.encode()

    def signature(self, signing_input: bytes) -> bytes:
        return hmac.new(self.key, signing_input, hashlib.sha256).digest()

    def token(self, kind: str, user_id: int, iat: int, exp: int, sid: str | None = None) -> tuple[str, str]:
        """A SimpleJWT-shaped token; with `sid`, imhotep's session claim after `user_id` (as a login makes it)."""
        jti = uuid.uuid4().hex
        session = f',"sid":"{sid}"' if sid else ""
        payload = (f'{{"token_type":"{kind}","exp":{exp},"iat":{iat},"jti":"{jti}",'
                   f'"user_id":"{user_id}"{session}}}').encode()
        signing_input = self.HEADER + b"." + b64url(payload)
        signature = b64url(self.signature(signing_input))
        return jti, (signing_input + b"." + signature).decode()


class KeyMinter(Minter):
    """Tokens signed with a key pair (`--jwt-algorithms`), with the `kid` the server signs with. Uses
    `cryptography` from bench/.venv (run.sh installs it)."""

    def __init__(self, algorithm: str, pem: Path, kid: str):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
        self.HEADER = b64url(json.dumps({"alg": algorithm, "kid": kid, "typ": "JWT"},
                                        separators=(",", ":")).encode())
        if algorithm == "EdDSA":
            self.sign = key.sign
        elif algorithm == "RS256":
            self.sign = lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == "ES256":
            def sign(data: bytes) -> bytes:  # JWS wants r || s, not DER
                r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")
            self.sign = sign
        else:
            raise ValueError(f"--jwt-algorithms: {algorithm} is not benchmarked (use HS256, EdDSA, ES256, RS256)")

    def signature(self, signing_input: bytes) -> bytes:
        return self.sign(signing_input)


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


# ---------------------------------------------------------------------------------------------
# The servers under test.

class Server:
    name = ""
    backend = ""

    def __init__(self, cfg, work: Path, label: str):
        self.cfg = cfg
        self.work = work
        self.label = label
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = work / f"{label}.log"

    # Implemented per server: prepare(users, outstanding, blacklisted), start(smtp_port),
    # pids(), record_outstanding(rows), counts(), close(). Servers with sessions (imhotep) also
    # record_sessions(rows), and their tokens carry the session's `sid`, as a login's would.
    has_sessions = False

    def record_sessions(self, rows) -> None:
        """rows: (sid, user_id, iat, exp) of sessions the tokens about to be presented belong to."""

    def wait_ready(self, path: str, ok, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.proc.returncode}; see {self.log_path}")
            status = http_status(self.port, path, timeout=2)
            if status is not None and ok(status):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} not ready after {timeout} s; see {self.log_path}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc, 30)

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []


def pg_seed_sql(table_users: str, columns: str, values: str, outstanding_table: str,
                outstanding_columns: str, outstanding_values: str, blacklisted_table: str,
                users: int, outstanding: int, blacklisted: int) -> str:
    sql = [f"BEGIN;",
           f"INSERT INTO {table_users} ({columns}) SELECT {values} FROM generate_series(1, {users}) AS i;",
           f"SELECT setval(pg_get_serial_sequence('{table_users}', 'id'), {users});"]
    if outstanding:
        sql += [f"INSERT INTO {outstanding_table} ({outstanding_columns}) SELECT {outstanding_values} "
                f"FROM generate_series(1, {outstanding}) AS i;",
                f"SELECT setval(pg_get_serial_sequence('{outstanding_table}', 'id'), {outstanding});"]
    if blacklisted:
        step = 2 if 2 * blacklisted <= outstanding else 1
        sql += [f"INSERT INTO {blacklisted_table} (id, token_id, blacklisted_at) "
                f"SELECT i, {step} * i, now() FROM generate_series(1, {blacklisted}) AS i;",
                f"SELECT setval(pg_get_serial_sequence('{blacklisted_table}', 'id'), {blacklisted});"]
    # VACUUM sets hint bits and the visibility map, as on a database that grew over time.
    sql += ["COMMIT;", "VACUUM (ANALYZE);"]
    return "\n".join(sql) + "\n"


class Imhotep(Server):
    name = "imhotep"
    has_sessions = True

    def __init__(self, cfg, work, label, backend: str, password_hash: str, extra_env: dict | None = None,
                 cpus: str | None = None):
        super().__init__(cfg, work, label)
        self.cpus = cpus  # `taskset -c` list the server is pinned to (None: not pinned)
        self.backend = backend
        self.password_hash = password_hash
        self.extra_env = extra_env or {}
        if backend == "pg":
            self.db = f"bench_{os.getpid()}_{label.replace('-', '_')}"
            self.url = pg_url(self.db)
        else:
            self.db = None
            self.sqlite_path = work / f"{label}.db"
            self.url = f"sqlite://{self.sqlite_path}?mode=rwc"

    def env(self, smtp_port: int = 1) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMHOTEP_")}
        env.update(SECRET_KEY=SECRET_KEY, DEBUG="false", DATABASE_URL=self.url, PORT=str(self.port),
                   HOST="127.0.0.1",
                   # Warnings only, plus start-up and shutdown lines (a server that stops says why).
                   RUST_LOG="warn,imhotep::app=info", EMAIL_BACKEND="smtp", EMAIL_HOST="127.0.0.1",
                   EMAIL_PORT=str(smtp_port),
                   # No separate metrics listener: nothing here scrapes it, and its port may be taken.
                   IMHOTEP_METRICS__BIND="",
                   # W4/W5 keep 32 logins or registrations in flight: past the default bound (4 per
                   # hashing slot) they would be answered 503 at once, which is the flood behaviour
                   # `--throttle` measures, not the throughput these workloads compare.
                   IMHOTEP_SERVER__HASH_QUEUE_LIMIT="4096")
        env.update(THROTTLE_OUT_OF_REACH)
        env.update(self.extra_env)
        # An A/B of a setting (bench/run.sh's header).
        env.update(json.loads(os.environ.get("BENCH_EXTRA_ENV", "{}")))
        return env

    def prepare(self, users: int, outstanding: int = 0, blacklisted: int = 0) -> None:
        if self.backend == "pg":
            create_database(self.db)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.sqlite_path}{suffix}").unlink(missing_ok=True)
        run([str(IMHOTEP_BIN), "migrate"], env=self.env(), timeout=120)
        user_values = ("i, 'user' || i || '@example.com', 'user' || i || '@example.com', '', '', '', "
                       "{hash}, {true}, {false}, {false}, NULL, {now}")
        columns = ("id, email, email_key, username, first_name, last_name, password, is_active, "
                   "is_staff, is_superuser, last_login, date_joined")
        if self.backend == "pg":
            psql(self.db, pg_seed_sql(
                "users", columns,
                user_values.format(hash=f"'{self.password_hash}'", true="true", false="false", now="now()"),
                "outstanding_tokens", "id, jti, user_id, created_at, expires_at",
                f"i, md5('seed-' || i), 1 + (i % {users}), now() - interval '1 hour', now() + interval '7 days'",
                "blacklisted_tokens", users, outstanding, blacklisted))
        else:
            now = iso(int(time.time()))
            con = sqlite3.connect(self.sqlite_path, timeout=30)
            with con:
                con.execute(
                    f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {users}) "
                    f"INSERT INTO users ({columns}) SELECT "
                    + user_values.format(hash="?", true="1", false="0", now="?") + " FROM s",
                    (self.password_hash, now))
                if outstanding:
                    con.execute(
                        f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {outstanding}) "
                        "INSERT INTO outstanding_tokens (id, jti, user_id, created_at, expires_at) "
                        f"SELECT i, printf('%032x', i), 1 + (i % {users}), ?, ? FROM s",
                        (iso(int(time.time()) - 3600), iso(int(time.time()) + 7 * 86400)))
                if blacklisted:
                    step = 2 if 2 * blacklisted <= outstanding else 1
                    con.execute(
                        f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {blacklisted}) "
                        f"INSERT INTO blacklisted_tokens (id, token_id, blacklisted_at) SELECT i, {step} * i, ? FROM s",
                        (now,))
            con.execute("ANALYZE")
            con.close()

    def start(self, smtp_port: int) -> None:
        pin = ["taskset", "-c", self.cpus] if self.cpus else []  # taskset execs: the pid stays the server's
        self.proc = spawn(pin + [str(IMHOTEP_BIN), "serve"], env=self.env(smtp_port), log_path=self.log_path)
        self.wait_ready("/readyz", lambda status: status == 200)

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.alive() else []

    def record_sessions(self, rows) -> None:
        if self.backend == "pg":
            path = self.work / "sessions.csv"
            with open(path, "w", newline="") as f:
                writer = csv.writer(f)
                for sid, user_id, iat, exp in rows:
                    writer.writerow([sid, user_id, iso(iat), iso(iat), iso(exp)])
            psql(self.db, f"\\copy sessions (id, user_id, created_at, last_used_at, expires_at) FROM '{path}' "
                          "WITH (FORMAT csv)\nANALYZE sessions;\n")
        else:
            con = sqlite3.connect(self.sqlite_path, timeout=30)
            with con:
                con.executemany("INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) "
                                "VALUES (?, ?, ?, ?, ?)",
                                ((sid, user_id, iso(iat), iso(iat), iso(exp)) for sid, user_id, iat, exp in rows))
            con.close()

    def record_outstanding(self, rows) -> None:
        """rows: (jti, user_id, iat, exp, token, sid) of refresh tokens about to be presented: recorded
        as outstanding in their sessions (recorded first), as if a login had issued them."""
        self.record_sessions([(sid, user_id, iat, exp) for _jti, user_id, iat, exp, _token, sid in rows])
        if self.backend == "pg":
            path = self.work / "outstanding.csv"
            with open(path, "w", newline="") as f:
                writer = csv.writer(f)
                for jti, user_id, iat, exp, _token, sid in rows:
                    writer.writerow([jti, user_id, iso(iat), iso(exp), sid])
            psql(self.db, f"\\copy outstanding_tokens (jti, user_id, created_at, expires_at, session_id) FROM '{path}' "
                          "WITH (FORMAT csv)\nANALYZE outstanding_tokens;\n")
        else:
            con = sqlite3.connect(self.sqlite_path, timeout=30)
            with con:
                con.executemany("INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id) "
                                "VALUES (?, ?, ?, ?, ?)",
                                ((jti, user_id, iso(iat), iso(exp), sid) for jti, user_id, iat, exp, _, sid in rows))
            con.close()

    def counts(self) -> dict:
        """Registrations made during the run and the state of the e-mail outbox."""
        query = ["SELECT count(*) FROM users WHERE email LIKE 'w5-%'",
                 "SELECT status || ':' || count(*) FROM email_outbox GROUP BY status"]
        out = {}
        try:
            if self.backend == "pg":
                out["registered"] = int(psql(self.db, query[0] + ";").strip())
                rows = psql(self.db, query[1] + ";").split()
            else:
                con = sqlite3.connect(self.sqlite_path, timeout=30)
                out["registered"] = con.execute(query[0]).fetchone()[0]
                rows = [r[0] for r in con.execute(query[1])]
                con.close()
            out["outbox"] = {row.split(":")[0]: int(row.split(":")[1]) for row in rows}
        except Exception as error:  # noqa: BLE001 - a schema change must not sink the run
            out["error"] = str(error)[:300]
        return out

    def db_backend_pids(self) -> list[int]:
        if self.backend != "pg":
            return []
        return [int(x) for x in psql("postgres", f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.db}' AND backend_type = 'client backend';").split()]

    def close(self) -> None:
        self.stop()
        if self.backend == "pg" and not KEEP_DATABASES:
            drop_database(self.db)


class Djoser(Server):
    name = "djoser"
    backend = "pg"

    def __init__(self, cfg, work, label, password_hash: str):
        super().__init__(cfg, work, label)
        self.password_hash = password_hash
        self.db = f"bench_{os.getpid()}_{label.replace('-', '_')}"
        self.url = pg_url(self.db)

    def env(self, smtp_port: int = 1) -> dict:
        env = dict(os.environ)
        env.update(SECRET_KEY=SECRET_KEY, DATABASE_URL=self.url, PORT=str(self.port),
                   WORKERS=str(self.cfg.workers), CONN_MAX_AGE="60", EMAIL_HOST="127.0.0.1",
                   EMAIL_PORT=str(smtp_port), DEBUG="false")
        env.pop("ACCESS_LOG", None)
        return env

    def prepare(self, users: int, outstanding: int = 0, blacklisted: int = 0) -> None:
        create_database(self.db)
        run([str(REFERENCE / "run.sh"), "manage", "migrate", "--no-input", "--verbosity", "0"],
            env=self.env(), cwd=REFERENCE, timeout=300)
        psql(self.db, pg_seed_sql(
            "users_user",
            "id, password, last_login, is_superuser, first_name, last_name, is_staff, is_active, "
            "date_joined, username, email",
            f"i, '{self.password_hash}', NULL, false, '', '', false, true, now(), '', 'user' || i || '@example.com'",
            "token_blacklist_outstandingtoken", "id, token, created_at, expires_at, user_id, jti",
            f"i, 'seeded', now() - interval '1 hour', now() + interval '7 days', 1 + (i % {users}), md5('seed-' || i)",
            "token_blacklist_blacklistedtoken", users, outstanding, blacklisted))

    def start(self, smtp_port: int) -> None:
        self.proc = spawn([str(REFERENCE / "run.sh")], env=self.env(smtp_port), cwd=REFERENCE,
                          log_path=self.log_path)
        self.wait_ready("/api/auth/users/me/", lambda status: status == 401, timeout=120)
        deadline = time.monotonic() + 60
        while len(children_of(self.proc.pid)) < self.cfg.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)

    def pids(self) -> list[int]:
        return [self.proc.pid, *children_of(self.proc.pid)] if self.alive() else []

    def record_outstanding(self, rows) -> None:
        path = self.work / "outstanding.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            for jti, user_id, iat, exp, token, _sid in rows:
                writer.writerow([token, jti, user_id, iso(iat), iso(exp)])
        psql(self.db, "\\copy token_blacklist_outstandingtoken (token, jti, user_id, created_at, expires_at) "
                      f"FROM '{path}' WITH (FORMAT csv)\nANALYZE token_blacklist_outstandingtoken;\n")

    def counts(self) -> dict:
        try:
            return {"registered": int(psql(self.db, "SELECT count(*) FROM users_user WHERE email LIKE 'w5-%';"))}
        except Exception as error:  # noqa: BLE001
            return {"error": str(error)[:300]}

    def db_backend_pids(self) -> list[int]:
        return [int(x) for x in psql("postgres", f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.db}' AND backend_type = 'client backend';").split()]

    def close(self) -> None:
        self.stop()
        if not KEEP_DATABASES:
            drop_database(self.db)


class SmtpSink:
    def __init__(self, work: Path, label: str):
        self.port = free_port()
        self.out = work / f"smtp-{label}.out"
        self.proc = spawn([sys.executable, str(BENCH / "smtp_sink.py"), str(self.port)], log_path=self.out)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "ready" in self.out.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> dict:
        stop_process(self.proc, 10)
        for line in reversed(self.out.read_text(errors="replace").splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return {}


# ---------------------------------------------------------------------------------------------
# Load: wrk runs and the /healthz probe.

def wrk(cfg, port: int, workload: str, seconds: int, env: dict, out: Path) -> dict:
    cmd = ["wrk", "-t", str(cfg.threads), "-c", str(cfg.connections), "-d", f"{seconds}s",
           "--timeout", "30s", "-s", str(LUA), f"http://127.0.0.1:{port}"]
    out.unlink(missing_ok=True)
    full_env = dict(os.environ)
    full_env.update({k: str(v) for k, v in env.items()}, BENCH_WORKLOAD=workload,
                    BENCH_THREADS=str(cfg.threads), BENCH_OUT=str(out))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-1000:]} {result.stdout[-1000:]}")
    data = json.loads(out.read_text(errors="replace"))
    data["wrk_cpu_s"] = round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 3)
    seconds_run = data["duration_us"] / 1e6
    data["rps"] = data["requests"] / seconds_run if seconds_run else 0.0
    socket_errors = sum(data["socket_errors"].values())
    data["errors"] = data["non2xx"] + socket_errors + data["exhausted"]
    return data


class HealthProbe(threading.Thread):
    """GETs /healthz on a fresh connection every 50 ms while a workload runs; records latency."""

    def __init__(self, port: int, seconds: float, path: str = "/healthz"):
        super().__init__(daemon=True)
        self.port, self.seconds, self.path = port, seconds, path
        self.latencies_ms: list[float] = []
        self.failures = 0
        self.statuses: dict[str, int] = {}

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", self.path)
                response = conn.getresponse()
                response.read()
                conn.close()
                self.latencies_ms.append((time.monotonic() - started) * 1000)
                key = str(response.status)
                self.statuses[key] = self.statuses.get(key, 0) + 1
            except OSError:
                self.failures += 1
            time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {"path": self.path, "samples": len(lat), "failures": self.failures, "statuses": self.statuses,
                "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "max_ms": max(lat) if lat else None}


# ---------------------------------------------------------------------------------------------
# One server through the workloads.

class TokenFiles:
    def __init__(self, work: Path, minter: Minter, users: int):
        self.work, self.minter, self.users = work, minter, users
        self.serial = 0

    def access(self, label: str, server: "Server | None" = None) -> Path:
        """Access tokens of up to 10,000 distinct users, for W1/W2/W6; on a server with sessions each
        token belongs to a recorded session, so W1 pays for the session check."""
        now = int(time.time()) - 5
        ids = random.sample(range(1, self.users + 1), min(self.users, 10_000))
        with_sessions = server is not None and server.has_sessions
        sids = {uid: uuid.uuid4().hex if with_sessions else None for uid in ids}
        if with_sessions:
            server.record_sessions([(sids[uid], uid, now, now + 7 * 86400) for uid in ids])
        path = self.work / f"access-{label}.txt"
        path.write_text("".join(self.minter.token("access", uid, now, now + 3 * 3600, sids[uid])[1] + "\n"
                                for uid in ids))
        return path

    def refresh(self, server: Server, count: int) -> Path:
        """`count` fresh refresh tokens of random users, recorded as outstanding on `server` (each in
        a session of its own where the server has sessions, as after `count` logins)."""
        self.serial += 1
        now = int(time.time()) - 5
        rows = []
        for _ in range(count):
            uid = random.randint(1, self.users)
            sid = uuid.uuid4().hex if server.has_sessions else None
            jti, token = self.minter.token("refresh", uid, now, now + 7 * 86400, sid)
            rows.append((jti, uid, now, now + 7 * 86400, token, sid))
        server.record_outstanding(rows)
        path = self.work / f"refresh-{self.serial}.txt"
        path.write_text("".join(row[4] + "\n" for row in rows))
        return path


def run_workload(cfg, server: Server, workload: str, tokens: TokenFiles, access: Path, users: int) -> dict:
    base_env = {"BENCH_ACCESS": access, "BENCH_USERS": users, "BENCH_PASSWORD": PASSWORD}
    out = server.work / f"wrk-{server.label}-{workload}.json"
    all_pids = lambda: server.pids() + server.db_backend_pids()  # noqa: E731
    idle_waits = [wait_idle(all_pids)]
    pids = server.pids()
    peak_reset = reset_peak_rss(pids)

    warm_env = dict(base_env, BENCH_TAG=f"{os.getpid()}{server.label.replace('-', '')}{workload}warm")
    if workload in REFRESH_SHARE:
        need = math.ceil(WARMUP_TOKENS_PER_SECOND * REFRESH_SHARE[workload] * cfg.warmup) + 500
        warm_env["BENCH_REFRESH"] = tokens.refresh(server, need)
    warm = wrk(cfg, server.port, workload, cfg.warmup, warm_env, out)

    run_env = dict(base_env, BENCH_TAG=f"{os.getpid()}{server.label.replace('-', '')}{workload}run")
    minted = None
    if workload in REFRESH_SHARE:
        # Twice what the warm-up rate would use, and never fewer than the warm-up had.
        minted = max(math.ceil(warm["rps"] * REFRESH_SHARE[workload] * cfg.duration * 2) + 1000,
                     math.ceil(warm["requests"] * REFRESH_SHARE[workload]) + 1000)
        run_env["BENCH_REFRESH"] = tokens.refresh(server, minted)
    idle_waits.append(wait_idle(all_pids))
    # The raw hash rate right before imhotep's logins, as well as at the run's start: the machine's
    # speed drifts by up to 2x within a run, and the login goal is a ratio to this rate.
    raw_before = argon2_limit(min(5, cfg.duration)) if workload == "w4" and server.label.startswith("imhotep") else None

    pids = server.pids()
    db_pids = server.db_backend_pids()
    cpu0, db0, mach0 = cpu_seconds(pids), cpu_seconds(db_pids), machine_cpu()
    probe = HealthProbe(server.port, cfg.duration, "/healthz") if workload == "w4" else None
    if probe:
        probe.start()
    result = wrk(cfg, server.port, workload, cfg.duration, run_env, out)
    # Counters right as wrk stops (the probe may still be waiting for an answer).
    cpu1, mach1 = cpu_seconds(pids), machine_cpu()
    db1 = cpu_seconds(db_pids)
    after_pids = server.pids()
    memory = memory_kb(after_pids)
    db1.update(cpu_seconds(set(server.db_backend_pids()) - set(db_pids)))
    if probe:
        probe.join(cfg.duration + 60)

    requests = max(result["requests"], 1)
    if result["requests"] == 0:
        result["errors"] += 1  # nothing completed: the run says nothing
        result["samples"].append("no request completed in the measured run")
    result.update(
        idle_wait_s=[round(x, 1) for x in idle_waits],
        raw_argon2id_before=raw_before,
        warmup={"seconds": cfg.warmup, "requests": warm["requests"], "rps": warm["rps"], "errors": warm["errors"],
                "non2xx": warm["non2xx"], "statuses": warm["statuses"], "samples": warm["samples"],
                "socket_errors": warm["socket_errors"], "exhausted": warm["exhausted"]},
        server_cpu_s=round(cpu_delta(cpu0, cpu1), 3),
        server_cpu_s_per_1k=cpu_delta(cpu0, cpu1) / requests * 1000,
        db_cpu_s=round(cpu_delta(db0, db1), 3) if server.backend == "pg" else None,
        db_cpu_s_per_1k=(cpu_delta(db0, db1) / requests * 1000) if server.backend == "pg" else None,
        machine_busy_pct=100 * (mach1[0] - mach0[0]) / max(1, mach1[1] - mach0[1]),
        peak_rss_kb=memory["hwm_kb"],
        rss_after_kb=memory["rss_kb"],
        pss_after_kb=memory["pss_kb"],
        threads_after=memory["threads"],
        peak_rss_since="this workload's warm-up" if peak_reset else "server start",
        processes_changed=sorted(pids) != sorted(after_pids),
        server_alive=server.alive(),
        refresh_tokens_minted=minted,
    )
    if probe:
        result["healthz_probe"] = probe.summary()
    line = (f"{server.label:15} {workload}: {result['rps']:10.1f} req/s  p50 {result['latency_us']['p50'] / 1000:8.2f} ms"
            f"  p99 {result['latency_us']['p99'] / 1000:8.2f} ms  errors {result['errors'] + warm['errors']}"
            f"  cpu/1k {result['server_cpu_s_per_1k']:.3f} s")
    if probe:
        line += f"  healthz p99 {result['healthz_probe']['p99_ms'] or 0:.1f} ms"
    log(line)
    for sample in (result["samples"] + warm["samples"])[:3]:
        log(f"    non-2xx sample: {sample[:300]!r}")
    return result


def bench_server(cfg, server: Server, minter: Minter, users: int, workloads: list[str],
                 outstanding: int = 0, blacklisted: int = 0, before_start=None) -> dict:
    started = time.monotonic()
    log(f"{server.label}: fresh database, seeding {users:,} users"
        + (f", {outstanding:,} outstanding and {blacklisted:,} blacklisted tokens" if outstanding else ""))
    seed_started = time.monotonic()
    server.prepare(users, outstanding, blacklisted)
    seed_seconds = time.monotonic() - seed_started
    extra = before_start(server) if before_start else None
    sink = SmtpSink(server.work, server.label)
    server.start(sink.port)
    time.sleep(1)
    idle = memory_kb(server.pids())
    log(f"{server.label}: up on port {server.port}, idle RSS {idle['rss_kb'] / 1024:.1f} MiB "
        f"({len(server.pids())} process(es)), seeded in {seed_seconds:.1f} s")
    tokens = TokenFiles(server.work, minter, users)
    access = tokens.access(server.label, server)
    result = {"server": server.name, "backend": server.backend, "users": users,
              "outstanding_seeded": outstanding, "blacklisted_seeded": blacklisted,
              "seed_seconds": round(seed_seconds, 2), "idle_rss_kb": idle["rss_kb"], "idle_pss_kb": idle["pss_kb"],
              "processes": len(server.pids()), "workloads": {}}
    try:
        for workload in workloads:
            result["workloads"][workload] = run_workload(cfg, server, workload, tokens, access, users)
            if not server.alive():
                result["crashed"] = {"returncode": server.proc.returncode, "log_tail": server.log_tail()}
                log(f"{server.label} DIED (exit {server.proc.returncode}); log tail:\n" + "\n".join(server.log_tail()))
                break
        time.sleep(2 if workloads and ("w5" in workloads or "w6" in workloads) else 0)  # let queued mail go out
        result["counts"] = server.counts()
    finally:
        server.stop()
        result["mail_sink"] = sink.stop()
        log_lines = server.log_tail(10_000)
        result["server_log_lines"] = len(log_lines)
        result["server_log_sample"] = log_lines[:5]
        server.close()
    peaks = [w["peak_rss_kb"] for w in result["workloads"].values()]
    result["peak_rss_kb"] = max(peaks) if peaks else None
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    if extra:
        result.update(extra)
    return result


# ---------------------------------------------------------------------------------------------
# The limits.

def argon2_limit(seconds: int) -> dict:
    log(f"limit: raw argon2id verifications, all cores, {seconds} s")
    data = json.loads(run([str(CEILING_BIN / "argon2-rate"), "rate", str(seconds)], timeout=seconds + 60))
    data["tool"] = "bench/ceiling argon2-rate (Rust, argon2 0.6 crate, one thread per core)"
    log(f"  {data['per_second']:.1f} verifications/s on {data['threads']} threads")
    return data


PBKDF2_SCRIPT = r"""
import json, multiprocessing, sys, time
from django.conf import settings
settings.configure()
from django.contrib.auth.hashers import PBKDF2PasswordHasher

def work(seconds, queue):
    hasher = PBKDF2PasswordHasher()
    encoded = hasher.encode("Bench-Horse-Battery-7", hasher.salt())
    count, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        hasher.verify("Bench-Horse-Battery-7", encoded)
        count += 1
    queue.put(count / (time.monotonic() - started))

if __name__ == "__main__":
    seconds, procs = float(sys.argv[1]), int(sys.argv[2])
    queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=work, args=(seconds, queue)) for _ in range(procs)]
    for w in workers: w.start()
    rates = [queue.get(timeout=seconds + 120) for _ in workers]
    for w in workers: w.join()
    print(json.dumps({"processes": procs, "iterations": PBKDF2PasswordHasher.iterations, "per_second": sum(rates)}))
"""


def pbkdf2_limit(seconds: int, work: Path) -> dict:
    log(f"limit: Django's PBKDF2-SHA256 verifications (its own hasher), all cores, {seconds} s")
    script = work / "pbkdf2_rate.py"
    script.write_text(PBKDF2_SCRIPT)
    data = json.loads(run([str(REF_VENV / "bin" / "python"), str(script), str(seconds), str(os.cpu_count())],
                          timeout=seconds + 180))
    data["tool"] = "Django's PBKDF2PasswordHasher.verify in the reference venv, one process per core"
    log(f"  {data['per_second']:.2f} verifications/s ({data['iterations']:,} iterations)")
    return data


def http_ceiling(cfg, work: Path, minter: Minter) -> dict:
    log(f"limit: axum `{{}}` server under W2's requests, {cfg.warmup} s warm-up + {cfg.duration} s")
    port = free_port()
    proc = spawn([str(CEILING_BIN / "ceiling"), str(port)], log_path=work / "ceiling.log")
    try:
        deadline = time.monotonic() + 20
        while http_status(port, "/") is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the ceiling server did not start")
            time.sleep(0.1)
        access = TokenFiles(work, minter, 10_000).access("ceiling")
        env = {"BENCH_ACCESS": access}
        wrk(cfg, port, "w2", cfg.warmup, env, work / "wrk-ceiling.json")
        cpu0 = cpu_seconds([proc.pid])
        data = wrk(cfg, port, "w2", cfg.duration, env, work / "wrk-ceiling.json")
        data["server_cpu_s_per_1k"] = cpu_delta(cpu0, cpu_seconds([proc.pid])) / max(1, data["requests"]) * 1000
        data["peak_rss_kb"] = memory_kb([proc.pid])["hwm_kb"]
    finally:
        stop_process(proc)
    log(f"  {data['rps']:.0f} req/s, p99 {data['latency_us']['p99'] / 1000:.2f} ms, errors {data['errors']}")
    return data


def pgbench_limit(cfg, server: Imhotep, users: int) -> dict:
    """Select-only one-row primary-key lookups on the seeded users table, as W1 does."""
    log(f"limit: pgbench one-row PK select on users, -c {cfg.connections}, {cfg.warmup} s warm-up + {cfg.duration} s")
    script = server.work / "pgbench-select.sql"
    script.write_text(f"\\set id random(1, {users})\n"
                      "SELECT id, email, email_key, username, first_name, last_name, password, is_active, "
                      "is_staff, is_superuser, last_login, date_joined FROM users WHERE id = :id;\n")
    base = ["pgbench", *pg_args(server.db)[:-2], "-n", "-M", "prepared", "-c", str(cfg.connections),
            "-j", str(cfg.threads), "-f", str(script)]
    run(base + ["-T", str(cfg.warmup), server.db], timeout=cfg.warmup + 120)
    prefix = server.work / "pgbench_log"
    for old in server.work.glob("pgbench_log*"):
        old.unlink()
    out = run(base + ["-T", str(cfg.duration), "-l", "--sampling-rate", "0.1", "--log-prefix", str(prefix), server.db],
              timeout=cfg.duration + 120, cwd=server.work)
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    avg = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    latencies = []
    for path in server.work.glob("pgbench_log*"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]))
    data = {"tps": tps, "latency_avg_ms": avg, "clients": cfg.connections, "threads": cfg.threads,
            "mode": "prepared, select-only", "sampled_latencies": len(latencies),
            "p50_ms": (percentile(latencies, 50) or 0) / 1000, "p99_ms": (percentile(latencies, 99) or 0) / 1000,
            "p999_ms": (percentile(latencies, 99.9) or 0) / 1000}
    log(f"  {tps:.0f} tps, latency avg {avg:.3f} ms, p99 {data['p99_ms']:.3f} ms")
    return data


# ---------------------------------------------------------------------------------------------
# Machine description and the whole run.

def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)

    def version(cmd):
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (result.stdout + result.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "postgres": psql("postgres", "SHOW server_version;").strip(),
        "wrk": version(["wrk", "-v"]),
        "rustc": version(["rustc", "--version"]),
        "python": platform.python_version(),
    }


def git_commit() -> str:
    try:
        commit = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], timeout=10).strip()
        dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "migrations", "Cargo.toml",
                     "Cargo.lock", "bench"], timeout=10).strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except Exception:  # noqa: BLE001
        return "unknown"


def env_float(name: str) -> float | None:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bench/run.sh",
        description="Benchmarks imhotep (PostgreSQL and SQLite) against the reference Djoser server, with the "
                    "limits they run into and a 1,000,000-user scale step. Writes bench/results.json, BENCHMARKS.md "
                    "and bench/requests_per_second.png; exits non-zero if any request failed.")
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke run: 1 s warm-up + 2 s per workload, imhotep only, no scale step, "
                             "no reference; writes to bench/quick/ unless --publish")
    parser.add_argument("--users", type=int, default=10_000, help="seeded users (default 10000)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="wrk threads (default: one fewer than the cores, so wrk does not starve the server)")
    parser.add_argument("--duration", type=int, help="seconds per measured run (default 20; quick 2)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each run (default 5; quick 1)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers for the reference (default 2 x cores + 1)")
    parser.add_argument("--no-reference", action="store_true", help="skip the Djoser reference server")
    parser.add_argument("--no-scale", action="store_true", help="skip the 1,000,000-user scale step")
    parser.add_argument("--no-scale-reference", action="store_true", help="scale step for imhotep only")
    parser.add_argument("--scale-users", type=int, default=1_000_000)
    parser.add_argument("--scale-outstanding", type=int, default=1_000_000)
    parser.add_argument("--scale-blacklisted", type=int, default=500_000)
    parser.add_argument("--servers", default="imhotep-pg,imhotep-sqlite,djoser-pg",
                        help="comma-separated subset of imhotep-pg,imhotep-sqlite,djoser-pg")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="with --quick and without --publish: comma-separated subset of w1-w6 to run "
                             "(default all), for A/B runs of one workload")
    parser.add_argument("--publish", action="store_true",
                        help="with --quick: write results.json/BENCHMARKS.md where a full run does")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases and bench/work/")
    parser.add_argument("--throttle", action="store_true",
                        help="only the rate limiter's measurements (writes bench/throttle/results.json): W1/W2 "
                             "with the limiter on (limits out of reach) and off, interleaved, then a login flood "
                             "from many addresses at --flood-connections")
    parser.add_argument("--throttle-rounds", type=int, default=3,
                        help="on/off pairs per workload with --throttle (default 3)")
    parser.add_argument("--flood-connections", type=int, default=1000,
                        help="connections of the --throttle login flood (default 1000)")
    parser.add_argument("--jwt-algorithms", default="",
                        help="signing-key mode instead of the full run: W1 and W2 on the first imhotep server of "
                             "--servers once per listed algorithm (e.g. HS256,EdDSA,RS256; also ES256); writes "
                             "signing-keys.json and signing-keys.md next to results.json")
    parser.add_argument("--cores", default="",
                        help="per-core mode instead of the full run: W1-W3 on each imhotep server of --servers "
                             "pinned (taskset) to the first N cores for each listed N (e.g. 1,2); writes cores.json "
                             "and cores.md next to results.json")
    cfg = parser.parse_args(argv)
    cfg.workloads = [w.strip() for w in cfg.workloads.split(",") if w.strip()]
    if set(cfg.workloads) - set(WORKLOADS) or not cfg.workloads:
        parser.error(f"--workloads: a comma-separated subset of {','.join(WORKLOADS)}")
    if cfg.workloads != WORKLOADS and (not cfg.quick or cfg.publish):
        parser.error("--workloads: only with --quick, without --publish (a published run has every workload)")
    cfg.cores = [int(n) for n in cfg.cores.split(",") if n.strip()]
    if any(n < 1 or n > (os.cpu_count() or 1) for n in cfg.cores):
        parser.error(f"--cores: each count must be between 1 and {os.cpu_count()}")
    if cfg.cores and not shutil.which("taskset"):
        parser.error("--cores needs taskset (util-linux)")
    if cfg.quick or cfg.throttle or cfg.cores:
        cfg.no_reference = True
        cfg.no_scale = True
    cfg.duration = cfg.duration or (2 if cfg.quick else 20)
    cfg.warmup = cfg.warmup if cfg.warmup is not None else (1 if cfg.quick else 5)
    servers = [s.strip() for s in cfg.servers.split(",") if s.strip()]
    unknown = set(servers) - {"imhotep-pg", "imhotep-sqlite", "djoser-pg"}
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if cfg.no_reference:
        servers = [s for s in servers if s != "djoser-pg"]
    cfg.server_list = servers
    cfg.jwt_algorithms = [a.strip() for a in cfg.jwt_algorithms.split(",") if a.strip()]
    if cfg.jwt_algorithms and not any(s.startswith("imhotep-") for s in servers):
        parser.error("--jwt-algorithms needs an imhotep server in --servers")
    return cfg


def throttle_bench(cfg, work: Path, minter: Minter, imhotep_hash: str) -> tuple[dict, list[str]]:
    """The limiter's cost on W1/W2 (on with limits out of reach vs throttle.enabled=false, the runs
    interleaved on, off, on, off, ... and compared by their medians) and the longest wait of a login
    flood from many addresses (the bounded hashing queue answers 503 at once instead)."""
    results: dict = {"cost": {}, "flood": {}}
    failures: list[str] = []
    modes = {"on": {}, "off": {"IMHOTEP_THROTTLE__ENABLED": "false"}}
    for label in [s for s in cfg.server_list if s.startswith("imhotep")]:
        backend = label.split("-")[1]
        runs: dict = {"on": {"w1": [], "w2": []}, "off": {"w1": [], "w2": []}}
        for round_ in range(cfg.throttle_rounds):
            for mode, env in modes.items():
                server = Imhotep(cfg, work, f"{label}-{mode}-{round_}", backend, imhotep_hash, env)
                done = bench_server(cfg, server, minter, cfg.users, ["w1", "w2"])
                for workload, data in done["workloads"].items():
                    runs[mode][workload].append(data["rps"])
                    if data["errors"] + data["warmup"]["errors"]:
                        failures.append(f"throttle/{label}/{mode}/{workload}: {data['errors']} failed requests")
        summary = {}
        for workload in ("w1", "w2"):
            on, off = statistics.median(runs["on"][workload]), statistics.median(runs["off"][workload])
            summary[workload] = {"on_rps": runs["on"][workload], "off_rps": runs["off"][workload],
                                 "on_median": on, "off_median": off,
                                 "cost_pct": round(100 * (off - on) / off, 2) if off else None}
            log(f"{label} {workload}: limiter on {on:.0f} req/s, off {off:.0f} req/s, "
                f"cost {summary[workload]['cost_pct']} %")
        results["cost"][label] = summary

        # The flood measures the deployed hash-queue bound (0 = its default), not the raised one of
        # the throughput workloads.
        flood_env = {"IMHOTEP_THROTTLE__CLIENT_IP_HEADER": "X-Forwarded-For",
                     "IMHOTEP_SERVER__HASH_QUEUE_LIMIT": "0"}
        server = Imhotep(cfg, work, f"{label}-flood", backend, imhotep_hash, flood_env)
        server.prepare(cfg.users)
        sink = SmtpSink(server.work, server.label)
        server.start(sink.port)
        try:
            flood_cfg = argparse.Namespace(**vars(cfg))
            flood_cfg.connections = cfg.flood_connections
            out = server.work / f"wrk-{server.label}-flood.json"
            probe = HealthProbe(server.port, cfg.duration, "/readyz")
            probe.start()
            data = wrk(flood_cfg, server.port, "flood", cfg.duration, {}, out)
            probe.join(cfg.duration + 60)
        finally:
            server.stop()
            sink.stop()
            server.close()
        latency = data["latency_us"]
        results["flood"][label] = {"connections": cfg.flood_connections, "requests": data["requests"],
                                   "rps": data["rps"], "statuses": data["statuses"],
                                   "socket_errors": data["socket_errors"], "latency_us": latency,
                                   "readyz_probe": probe.summary()}
        log(f"{label} flood at {cfg.flood_connections} connections: {data['rps']:.0f} req/s, statuses "
            f"{data['statuses']}, p99 {latency['p99'] / 1000:.1f} ms, max {latency['max'] / 1000:.1f} ms")
        if latency["max"] > 2_000_000:
            failures.append(f"throttle/{label}/flood: a request waited {latency['max'] / 1e6:.2f} s (> 2 s)")
        unexpected = set(data["statuses"]) - {"401", "503"}
        if unexpected or sum(data["socket_errors"].values()):
            failures.append(f"throttle/{label}/flood: statuses {data['statuses']}, "
                            f"socket errors {data['socket_errors']}")
    return results, failures


def workload_failures(label: str, workloads: dict) -> list[str]:
    """One line per workload of a server's run that had failed requests, in the measured run or its warm-up."""
    failures = []
    for workload, data in workloads.items():
        errors = data["errors"] + data["warmup"]["errors"]
        if errors:
            failures.append(f"{label}/{workload}: {errors} failed requests "
                            f"(statuses {data['statuses'] or data['warmup']['statuses']}, "
                            f"socket errors {data['socket_errors']}, tokens exhausted {data['exhausted']})")
    return failures


def signing_keys(cfg, work: Path, out_dir: Path, imhotep_hash: str) -> int:
    """W1 and W2 once per JWT algorithm on one imhotep server kind, each with a fresh database and a
    key made by `imhotep keys generate`; the summary table compares each algorithm with the first."""
    kind = next(s for s in cfg.server_list if s.startswith("imhotep-"))
    results = {"command": os.environ.get("BENCH_COMMAND", "bash bench/run.sh"), "commit": git_commit(),
               "machine": machine(), "server": kind, "users": cfg.users, "connections": cfg.connections,
               "duration_s": cfg.duration, "warmup_s": cfg.warmup, "algorithms": {}}
    failures = []
    try:
        for algorithm in cfg.jwt_algorithms:
            label = f"{kind}-{algorithm.lower()}"
            if algorithm.startswith("HS"):
                minter, extra = Minter(SECRET_KEY), {"IMHOTEP_SIMPLE_JWT__ALGORITHM": algorithm}
                if algorithm != "HS256":
                    raise ValueError("--jwt-algorithms: of the HMAC algorithms only HS256 is benchmarked")
            else:
                pem = work / f"{algorithm}.pem"
                pem.write_text(run([str(IMHOTEP_BIN), "keys", "generate", "--algorithm", algorithm], timeout=120))
                kid = f"bench-{algorithm}"
                keys = [{"kid": kid, "algorithm": algorithm, "use": "sign", "signing_key": f"file:{pem}"}]
                minter, extra = KeyMinter(algorithm, pem, kid), {"IMHOTEP_KEYS__LIST": json.dumps(keys)}
            server = Imhotep(cfg, work, label, kind.split("-")[1], imhotep_hash, extra)
            data = bench_server(cfg, server, minter, cfg.users, ["w1", "w2"])
            results["algorithms"][algorithm] = data
            failures += workload_failures(label, data["workloads"])
    except Exception as error:  # noqa: BLE001 - record, report, exit non-zero
        failures.append(f"harness: {type(error).__name__}: {error}")
        log(f"FAILED: {error}")
    finally:
        cleanup()
    results["failures"] = failures
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "signing-keys.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"Signing algorithms on {kind}, {cfg.users:,} users, {cfg.connections} connections, "
             f"{cfg.warmup} s warm-up + {cfg.duration} s per run (`{results['command']}`, commit {results['commit']}).",
             "", "| algorithm | W1 req/s | W1 vs first | W1 p99 ms | W1 CPU s/1k | W2 req/s | W2 vs first | W2 p99 ms "
             "| W2 CPU s/1k |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    first = next(iter(results["algorithms"].values()), None)
    for algorithm, data in results["algorithms"].items():
        cells = [algorithm]
        for workload in ("w1", "w2"):
            run_data = data["workloads"].get(workload)
            if not run_data:
                cells += ["-"] * 4
                continue
            base = first["workloads"][workload]["rps"] if first and workload in first["workloads"] else None
            cells += [f"{run_data['rps']:.0f}", f"{100 * run_data['rps'] / base - 100:+.1f} %" if base else "-",
                      f"{run_data['latency_us']['p99'] / 1000:.2f}", f"{run_data['server_cpu_s_per_1k']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    (out_dir / "signing-keys.md").write_text("\n".join(lines) + "\n")
    log("\n".join(lines))
    if not cfg.keep:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        log("FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


def per_core(cfg, work: Path, out_dir: Path, imhotep_hash: str) -> int:
    """W1-W3 with each imhotep server pinned to 1, 2, ... cores (`taskset -c 0-<N-1>`), each on a fresh
    database; wrk and PostgreSQL are not pinned. Reports req/s, req/s per server core and the server's
    CPU seconds per 1,000 requests (cores needed = req/s x that / 1,000)."""
    kinds = [s for s in cfg.server_list if s.startswith("imhotep-")]
    results = {"command": os.environ.get("BENCH_COMMAND", "bash bench/run.sh"), "commit": git_commit(),
               "machine": machine(), "users": cfg.users, "connections": cfg.connections,
               "wrk_threads": cfg.threads, "duration_s": cfg.duration, "warmup_s": cfg.warmup, "runs": []}
    failures = []
    try:
        for kind in kinds:
            for cores in cfg.cores:
                label = f"{kind}-{cores}core"
                server = Imhotep(cfg, work, label, kind.split("-")[1], imhotep_hash, cpus=f"0-{cores - 1}")
                data = bench_server(cfg, server, Minter(SECRET_KEY), cfg.users, ["w1", "w2", "w3"])
                results["runs"].append({"server": kind, "cores": cores, "data": data})
                failures += workload_failures(label, data["workloads"])
    except Exception as error:  # noqa: BLE001 - record, report, exit non-zero
        failures.append(f"harness: {type(error).__name__}: {error}")
        log(f"FAILED: {error}")
    finally:
        cleanup()
    results["failures"] = failures
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cores.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"Server pinned with `taskset -c 0-<N-1>` (wrk with {cfg.threads} thread(s) and PostgreSQL not pinned, "
             f"so they use the remaining cores when there are any), {cfg.users:,} users, {cfg.connections} "
             f"connections, {cfg.warmup} s warm-up + {cfg.duration} s per run (`{results['command']}`, commit "
             f"{results['commit']}). Per core = req/s / N; CPU = the server's CPU seconds per 1,000 requests.",
             "", "| server | cores | W1 req/s | W1 per core | W1 CPU s/1k | W2 req/s | W2 per core | W2 CPU s/1k "
             "| W3 req/s | W3 per core | W3 CPU s/1k |", "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for entry in results["runs"]:
        cells = [entry["server"], str(entry["cores"])]
        for workload in ("w1", "w2", "w3"):
            run_data = entry["data"]["workloads"].get(workload)
            cells += ([f"{run_data['rps']:,.0f}", f"{run_data['rps'] / entry['cores']:,.0f}",
                       f"{run_data['server_cpu_s_per_1k']:.3f}"] if run_data else ["-"] * 3)
        lines.append("| " + " | ".join(cells) + " |")
    (out_dir / "cores.md").write_text("\n".join(lines) + "\n")
    log("\n".join(lines))
    if not cfg.keep:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        log("FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


def main(argv) -> int:
    global KEEP_DATABASES
    cfg = parse_args(argv)
    KEEP_DATABASES = cfg.keep
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    work = BENCH / "work" / f"run-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    if cfg.throttle:
        return main_throttle(cfg, work)
    out_dir = BENCH / "quick" if cfg.quick and not cfg.publish else BENCH
    report_path = out_dir / "BENCHMARKS.md" if out_dir != BENCH else ROOT / "BENCHMARKS.md"
    started = time.monotonic()
    minter = Minter(SECRET_KEY)
    reference = "djoser-pg" in cfg.server_list or (not cfg.no_scale and not cfg.no_reference
                                                   and not cfg.no_scale_reference)
    results = {
        "kind": "quick" if cfg.quick else "full",
        "command": os.environ.get("BENCH_COMMAND", "bash bench/run.sh " + " ".join(argv)),
        "started_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": machine(),
        "build_seconds": {"imhotep_release": env_float("BENCH_BUILD_SECONDS"),
                          "bench_ceiling_release": env_float("BENCH_CEILING_BUILD_SECONDS")},
        "config": {"users": cfg.users, "connections": cfg.connections, "wrk_threads": cfg.threads,
                   "duration_s": cfg.duration, "warmup_s": cfg.warmup, "gunicorn_workers": cfg.workers,
                   "servers": cfg.server_list, "scale": not cfg.no_scale,
                   "scale_users": cfg.scale_users, "scale_outstanding": cfg.scale_outstanding,
                   "scale_blacklisted": cfg.scale_blacklisted},
        "limits": {}, "servers": {}, "scale": {},
    }
    failures: list[str] = []
    if reference and not (REFERENCE / "run.sh").exists():
        log(f"the reference server is not at {REFERENCE} (set REFERENCE_DIR, or pass --no-reference)")
        return 2
    try:
        imhotep_hash = run([str(CEILING_BIN / "argon2-rate"), "hash", PASSWORD], timeout=60).strip()
        if reference:
            results["machine"]["django"] = run([str(REFERENCE / "run.sh"), "manage", "--version"],
                                               cwd=REFERENCE, timeout=600).strip()
            django_hash = run([str(REFERENCE / "run.sh"), "manage", "shell", "-c",
                               f"from django.contrib.auth.hashers import make_password; print(make_password('{PASSWORD}'))"],
                              cwd=REFERENCE, timeout=120).strip().splitlines()[-1]
        if cfg.jwt_algorithms:
            return signing_keys(cfg, work, out_dir, imhotep_hash)
        if cfg.cores:
            return per_core(cfg, work, out_dir, imhotep_hash)
        limit_seconds = min(10, cfg.duration)
        results["limits"]["argon2id"] = argon2_limit(limit_seconds)
        if reference:
            results["limits"]["pbkdf2_django"] = pbkdf2_limit(limit_seconds, work)
        results["limits"]["http_ceiling"] = http_ceiling(cfg, work, minter)

        def make(kind: str, label: str) -> Server:
            if kind == "djoser-pg":
                return Djoser(cfg, work, label, django_hash)
            return Imhotep(cfg, work, label, kind.split("-")[1], imhotep_hash)

        def with_pgbench(server):
            results["limits"]["pgbench"] = pgbench_limit(cfg, server, cfg.users)

        for label in cfg.server_list:
            results["servers"][label] = bench_server(
                cfg, make(label, label), minter, cfg.users, cfg.workloads,
                before_start=with_pgbench if label == "imhotep-pg" else None)

        if not cfg.no_scale:
            scale_labels = ["imhotep-pg"] + ([] if cfg.no_reference or cfg.no_scale_reference else ["djoser-pg"])
            for label in scale_labels:
                server = make(label, f"{label}-scale")
                results["scale"][label] = bench_server(
                    cfg, server, minter, cfg.scale_users, ["w1", "w3"],
                    outstanding=cfg.scale_outstanding, blacklisted=cfg.scale_blacklisted)
    except Exception as error:  # noqa: BLE001 - record, report, exit non-zero
        failures.append(f"harness: {type(error).__name__}: {error}")
        log(f"FAILED: {error}")
    finally:
        cleanup()

    for group in ("servers", "scale"):
        for label, server in results[group].items():
            if server.get("crashed"):
                failures.append(f"{group}/{label}: the server died (exit {server['crashed']['returncode']})")
            failures += workload_failures(f"{group}/{label}", server["workloads"])
            for workload, data in server["workloads"].items():
                probe = data.get("healthz_probe")
                if probe and probe["failures"]:
                    failures.append(f"{group}/{label}/{workload}: {probe['failures']} /healthz probes failed")
    ceiling = results["limits"].get("http_ceiling")
    if ceiling and ceiling["errors"]:
        failures.append(f"http ceiling: {ceiling['errors']} failed requests")
    results["failures"] = failures
    results["total_seconds"] = round(time.monotonic() - started, 1)

    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {results_path.relative_to(ROOT)}")
    try:
        import report
        report.write(results, report_path, out_dir / "requests_per_second.png")
        log(f"wrote {report_path.relative_to(ROOT)} and {(out_dir / 'requests_per_second.png').relative_to(ROOT)}")
    except Exception as error:  # noqa: BLE001
        failures.append(f"report: {type(error).__name__}: {error}")
        log(f"report FAILED: {error}")
    if not cfg.keep:
        shutil.rmtree(work, ignore_errors=True)
    log(f"done in {results['total_seconds']:.0f} s")
    if failures:
        log("FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


def main_throttle(cfg, work: Path) -> int:
    """`--throttle`: the limiter's measurements only, into bench/throttle/results.json."""
    started = time.monotonic()
    results = {"kind": "throttle", "command": os.environ.get("BENCH_COMMAND", "bash bench/run.sh --throttle"),
               "started_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "commit": git_commit(), "machine": machine(),
               "config": {"users": cfg.users, "connections": cfg.connections, "duration_s": cfg.duration,
                          "warmup_s": cfg.warmup, "rounds": cfg.throttle_rounds,
                          "flood_connections": cfg.flood_connections, "servers": cfg.server_list}}
    failures: list[str] = []
    try:
        imhotep_hash = run([str(CEILING_BIN / "argon2-rate"), "hash", PASSWORD], timeout=60).strip()
        measured, failures = throttle_bench(cfg, work, Minter(SECRET_KEY), imhotep_hash)
        results.update(measured)
    except Exception as error:  # noqa: BLE001 - record, report, exit non-zero
        failures.append(f"harness: {type(error).__name__}: {error}")
        log(f"FAILED: {error}")
    finally:
        cleanup()
    results["failures"] = failures
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out_dir = BENCH / "throttle"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {(out_dir / 'results.json').relative_to(ROOT)}")
    if not cfg.keep:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        log("FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Makes a Django database of N users (default 100 000) for timing `imhotep import-django`.

Run it with the reference server's Python (it has Django and psycopg); the schema comes from the
reference project's migrations (`run.sh manage migrate`), the rows from bulk inserts:

    PY=~/.cache/reference-djoser-venv/bin/python
    $PY bench/django_users.py --sqlite /tmp/django-100k.sqlite3
    createdb -h 127.0.0.1 -U postgres django_100k
    $PY bench/django_users.py --postgres postgres://postgres@127.0.0.1:5432/django_100k

Every user gets the same real `pbkdf2_sha256` hash (the import copies hashes without computing
them), a last login, and one outstanding refresh token; every tenth token is blacklisted.
"""
import argparse
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference-djoser"
HASH = "pbkdf2_sha256$1000000$rD8PwKhzszEx9Db0DTYuPd$9dfaQkla9x/BJgBYHTbQ1z+MPMoTVpuIk7lExKGHnQo="


def rows(count):
    joined = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for n in range(1, count + 1):
        last_login = joined + timedelta(minutes=n)
        yield (n, HASH, last_login, False, "", "First", "Last", f"user{n}@example.com", False, True, joined)


def tokens(count):
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(1, count + 1):
        yield (n, uuid.uuid4().hex, created, created + timedelta(days=3650), n)


def migrate(env):
    subprocess.run(["bash", str(REFERENCE / "run.sh"), "manage", "migrate", "--no-input", "-v", "0"],
                   env={**os.environ, **env}, check=True)


def fill_sqlite(path, count):
    import sqlite3
    migrate({"SQLITE_PATH": path})
    db = sqlite3.connect(path)
    text = lambda at: at.strftime("%Y-%m-%d %H:%M:%S.%f")
    db.executemany("INSERT INTO users_user (id, password, last_login, is_superuser, username, first_name, last_name, "
                   "email, is_staff, is_active, date_joined) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   ((r[0], r[1], text(r[2]), *r[3:10], text(r[10])) for r in rows(count)))
    db.executemany("INSERT INTO token_blacklist_outstandingtoken (id, token, jti, created_at, expires_at, user_id) "
                   "VALUES (?, 'x', ?, ?, ?, ?)",
                   ((t[0], t[1], text(t[2]), text(t[3]), t[4]) for t in tokens(count)))
    db.execute("INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at) "
               "SELECT id, created_at FROM token_blacklist_outstandingtoken WHERE id % 10 = 0")
    db.commit()


def fill_postgres(url, count):
    import psycopg
    migrate({"DATABASE_URL": url})
    with psycopg.connect(url) as db, db.cursor() as cur:
        with cur.copy("COPY users_user (id, password, last_login, is_superuser, username, first_name, last_name, "
                      "email, is_staff, is_active, date_joined) FROM STDIN") as copy:
            for row in rows(count):
                copy.write_row(row)
        with cur.copy("COPY token_blacklist_outstandingtoken (id, jti, created_at, expires_at, user_id, token) "
                      "FROM STDIN") as copy:
            for row in tokens(count):
                copy.write_row((*row, "x"))
        cur.execute("INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at) "
                    "SELECT id, created_at FROM token_blacklist_outstandingtoken WHERE id % 10 = 0")
        cur.execute("SELECT setval(pg_get_serial_sequence('users_user', 'id'), %s)", (count,))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--sqlite", help="path of a new SQLite file")
    target.add_argument("--postgres", help="URL of an existing, empty PostgreSQL database")
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    if args.sqlite:
        if os.path.exists(args.sqlite):
            sys.exit(f"{args.sqlite} exists: give a new path")
        fill_sqlite(args.sqlite, args.users)
    else:
        fill_postgres(args.postgres, args.users)
    print(f"{args.users} users, {args.users} outstanding tokens, {args.users // 10} blacklisted")


if __name__ == "__main__":
    main()

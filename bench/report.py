#!/usr/bin/env python3
"""Turns bench/results.json into BENCHMARKS.md and a requests/s chart. bench.py calls write();
to rebuild the report from an existing results file:

    bench/.venv/bin/python bench/report.py [bench/results.json]

(a quick run's results, under bench/quick/, give bench/quick/BENCHMARKS.md).
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ["imhotep-pg", "imhotep-sqlite", "djoser-pg"]
COLORS = {"imhotep-pg": "#1f77b4", "imhotep-sqlite": "#2ca02c", "djoser-pg": "#d62728"}
WORKLOADS = ["w1", "w2", "w3", "w4", "w5", "w6"]
TITLES = {
    "w1": "W1 `GET users/me/`",
    "w2": "W2 `POST jwt/verify/`",
    "w3": "W3 `POST jwt/refresh/`",
    "w4": "W4 `POST jwt/create/` (login)",
    "w5": "W5 `POST users/` (register)",
    "w6": "W6 mix",
}


def fmt(value, digits=0, unit=""):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if digits == 0 and abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    if abs(value) >= 10:
        return f"{value:.1f}{unit}"
    if abs(value) >= 1:
        return f"{value:.2f}{unit}"
    return f"{value:.3g}{unit}"


def ms(us):
    return None if us is None else us / 1000


def ratio(a, b):
    if a is None or b in (None, 0):
        return "–"
    return f"{a / b:.2f}×" if a / b < 10 else f"{a / b:.0f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def chart(results, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = [s for s in SERVERS if s in results["servers"]]
    if not servers:
        return False
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    width = 0.8 / len(servers)
    for i, label in enumerate(servers):
        workloads = results["servers"][label]["workloads"]
        values = [workloads[w]["rps"] if w in workloads else 0 for w in WORKLOADS]
        xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(WORKLOADS))]
        bars = ax.bar(xs, values, width, label=label, color=COLORS[label])
        for x, v in zip(xs, values):
            if v > 0:
                ax.text(x, v * 1.08, f"{v:,.0f}" if v >= 10 else f"{v:.1f}", ha="center", va="bottom",
                        fontsize=7, rotation=90)
    ax.set_yscale("log")
    ax.set_xticks(range(len(WORKLOADS)))
    ax.set_xticklabels([TITLES[w].replace("`", "") for w in WORKLOADS], fontsize=8, rotation=12)
    ax.set_ylabel("requests/s (log scale)")
    cfg = results["config"]
    kind = "QUICK RUN, busy machine: not representative" if results["kind"] == "quick" else "full run"
    ax.set_title(f"Requests/s per workload: {cfg['connections']} connections, {cfg['users']:,} users, "
                 f"{cfg['duration_s']} s per workload, {results['machine']['nproc']} cores - {kind}", fontsize=9)
    top = max((w["rps"] for s in servers for w in results["servers"][s]["workloads"].values()), default=1)
    ax.set_ylim(bottom=max(0.5, min(
        (w["rps"] for s in servers for w in results["servers"][s]["workloads"].values() if w["rps"] > 0),
        default=1) / 3), top=top * 6)
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write(results: dict, md_path: Path, png_path: Path) -> None:
    has_chart = chart(results, png_path)
    data = os.path.relpath(png_path.parent / "results.json", md_path.parent)
    text = render(results, os.path.relpath(png_path, md_path.parent) if has_chart else None, data)
    # Written by hand and kept across regenerations: what earlier changes moved (bench/history.md) and
    # the Django import, measured separately (bench/django_users.py).
    for extra in (ROOT / "bench" / "history.md", ROOT / "bench" / "django_import.md"):
        if md_path == ROOT / "BENCHMARKS.md" and extra.exists():
            text = text.rstrip("\n") + "\n\n" + extra.read_text()
    md_path.write_text(text)


def goals(r: dict, servers: list, wl) -> list:
    """The speed goals of issue 11, each against what this run measured (rows whose data the run lacks
    are left out): throughput ratios to the reference, login against the raw hash rate, verify against
    the bare-axum ceiling, memory and health-check latency during logins."""
    lim = r.get("limits", {})
    rows = []
    def add(what, measured, goal, met):
        rows.append([what, measured, goal, "met" if met else "**not met**"])
    ref = lambda w: wl("djoser-pg", w)["rps"] if wl("djoser-pg", w) else None  # noqa: E731
    for w, times in (("w1", 30), ("w2", 65), ("w3", 25)):
        for s in servers:
            if s != "djoser-pg" and wl(s, w) and ref(w):
                value = wl(s, w)["rps"] / ref(w)
                add(f"{TITLES[w]}, {s} ÷ djoser-pg", f"{value:.1f}×", f"≥ {times}×", value >= times)
    argon = lim.get("argon2id")
    for s in servers:
        w4 = wl(s, "w4")
        if not (s.startswith("imhotep") and w4):
            continue
        # The rate measured right before this W4 when the run has it, else the run's first.
        before = w4.get("raw_argon2id_before")
        rate = before or argon
        if rate:
            value = w4["rps"] / rate["per_second"]
            first = (f"; {w4['rps'] / argon['per_second']:.3f}× the run's first, {fmt(argon['per_second'], 1)}/s"
                     if before and argon else "")
            add(f"W4 login, {s} ÷ raw argon2id rate" + (" measured just before it" if before else ""),
                f"{value:.3f}× ({fmt(w4['rps'], 1)} ÷ {fmt(rate['per_second'], 1)}/s{first})", "≥ 0.9×", value >= 0.9)
        if w4.get("peak_rss_kb"):
            add(f"W4 login, {s}: peak RSS", f"{w4['peak_rss_kb'] / 1024:.1f} MiB", "≤ 100 MiB", w4["peak_rss_kb"] <= 100 * 1024)
        probe = w4.get("healthz_probe")
        if probe and probe.get("p99_ms") is not None:
            add(f"W4 login, {s}: `/healthz` p99", f"{fmt(probe['p99_ms'], 1)} ms", "< 50 ms", probe["p99_ms"] < 50)
    ceiling = lim.get("http_ceiling")
    for s in servers:
        if ceiling and s.startswith("imhotep") and wl(s, "w2"):
            value = wl(s, "w2")["rps"] / ceiling["rps"]
            add(f"{TITLES['w2']}, {s} ÷ axum `{{}}` ceiling", f"{100 * value:.1f}%", "≥ 50%", value >= 0.5)
    if not rows:
        return []
    # What the limits themselves reach against the reference: no server answers W2 faster than a handler
    # that does nothing, and one query per request stays near pgbench's rate (imhotep's W1 folds lookups).
    reach = []
    if ceiling and ref("w2"):
        reach.append(f"a bare axum handler answering `{{}}` to W2's requests is {ceiling['rps'] / ref('w2'):.1f}× "
                     f"the reference's `jwt/verify/`")
    pgb = lim.get("pgbench")
    if pgb and ref("w1"):
        reach.append(f"pgbench's one-row select alone is {pgb['tps'] / ref('w1'):.1f}× the reference's `users/me/`")
    return ["## Goals", "",
            "Issue 11's goals, each checked against this run's own measurements (the reference and the limits are "
            "measured in the same run; the limits once, at its start, so a machine whose speed drifts during the run "
            "moves the ratios to them: see the spread in the history below; the login goal uses the raw argon2id "
            "rate measured again right before each imhotep server's W4).", "",
            table(["goal", "measured", "target", ""], rows), ""] + (
            ["What the limits reach in this run: " + "; ".join(reach) + ".", ""] if reach else [])


def render(r: dict, png: str | None, data: str) -> str:
    cfg, mach = r["config"], r["machine"]
    servers = [s for s in SERVERS if s in r["servers"]]
    wl = lambda s, w: r["servers"].get(s, {}).get("workloads", {}).get(w)  # noqa: E731
    out = ["# Benchmarks", ""]
    if r["kind"] == "quick":
        out += ["> **Quick run (`--quick`) on a busy machine: these numbers are not representative.** "
                f"{cfg['warmup_s']} s warm-up and {cfg['duration_s']} s per workload, imhotep only, no scale step, "
                "taken while other builds and test suites ran on the same 2 cores. It shows what the harness "
                "measures; regenerate with a full run (`bash bench/run.sh`) on a quiet machine for real numbers.", ""]
    out += [
        f"Generated by `bench/run.sh` ([bench/](bench/)) on {r['started_at']}, commit `{r['commit']}`; raw data in "
        f"[{data}]({data}). Command: `{r['command']}` ({r['total_seconds'] / 60:.1f} min in all).",
        "",
        f"Machine: {mach['nproc']} cores ({mach['cpu_model']}), {mach['memory_gib']} GiB memory, Linux {mach['kernel']}, "
        f"PostgreSQL {mach['postgres']}, {mach['wrk']}, {mach['rustc']}"
        + (f", Django {mach['django']}" if mach.get("django") else "")
        + f". Load average at start: {', '.join(map(str, mach['load_average_at_start']))}.",
        "",
    ]
    if r.get("failures"):
        out += ["**Failures in this run:**", ""] + [f"- {f}" for f in r["failures"]] + [""]

    if png:
        out += [f"![requests per second per workload]({png})", ""]

    # Throughput.
    out += ["## Requests per second", ""]
    header = ["workload"] + servers
    if "djoser-pg" in servers:
        header += [f"{s} ÷ djoser-pg" for s in servers if s != "djoser-pg"]
    rows = []
    for w in WORKLOADS:
        row = [TITLES[w]] + [fmt(wl(s, w)["rps"]) if wl(s, w) else "–" for s in servers]
        if "djoser-pg" in servers:
            base = wl("djoser-pg", w)["rps"] if wl("djoser-pg", w) else None
            row += [ratio(wl(s, w)["rps"] if wl(s, w) else None, base) for s in servers if s != "djoser-pg"]
        rows.append(row)
    out += [table(header, rows), ""]
    out += goals(r, servers, wl)

    # Latency.
    out += ["## Latency (ms): p50 / p99 / p99.9", ""]
    rows = []
    for w in WORKLOADS:
        row = [TITLES[w]]
        for s in servers:
            d = wl(s, w)
            row.append(" / ".join(fmt(ms(d["latency_us"][p]), 1) for p in ("p50", "p99", "p999")) if d else "–")
        rows.append(row)
    out += [table(["workload"] + servers, rows), ""]

    # Errors.
    out += ["## Errors", "",
            "Non-2xx responses plus socket errors and time-outs (wrk's 30 s), in the measured run and (in brackets) "
            "its warm-up. Must be 0.", ""]
    rows = []
    for w in WORKLOADS:
        rows.append([TITLES[w]] + [f"{wl(s, w)['errors']} ({wl(s, w)['warmup']['errors']})" if wl(s, w) else "–"
                                   for s in servers])
    out += [table(["workload"] + servers, rows), ""]
    samples = [(s, w, sample) for s in servers for w in WORKLOADS if wl(s, w)
               for sample in (wl(s, w)["samples"] + wl(s, w)["warmup"]["samples"])[:2]]
    if samples:
        out += ["Sample failed responses:", ""] + [f"- {s} {w}: `{x.strip()[:300]}`" for s, w, x in samples[:12]] + [""]

    # CPU and memory.
    out += ["## CPU and memory", "",
            "Server CPU = utime + stime of the server process (gunicorn: master and all workers) over the measured run, "
            "from `/proc/<pid>/stat`, per 1,000 requests. Database CPU = the PostgreSQL backends serving that "
            "server's database. Machine busy = all cores, including wrk and PostgreSQL. Peak RSS = VmHWM, reset "
            "before each workload's warm-up (`clear_refs`), summed over gunicorn's processes (which counts the pages "
            "its forked workers share once per process; PSS, from `smaps_rollup`, counts them once in all).", ""]
    rows = []
    for w in WORKLOADS:
        row = [TITLES[w]]
        for s in servers:
            d = wl(s, w)
            if not d:
                row.append("–")
                continue
            db = f" + {fmt(d['db_cpu_s_per_1k'], 2)} db" if d.get("db_cpu_s_per_1k") is not None else ""
            row.append(f"{fmt(d['server_cpu_s_per_1k'], 2)}{db} s ({d['machine_busy_pct']:.0f}% busy)")
        rows.append(row)
    out += ["CPU seconds per 1,000 requests (server + database; machine busy):", "",
            table(["workload"] + servers, rows), ""]
    rows = [["idle RSS"] + [fmt(r["servers"][s]["idle_rss_kb"] / 1024, 1, " MiB") for s in servers],
            ["idle PSS"] + [fmt(r["servers"][s].get("idle_pss_kb", 0) / 1024, 1, " MiB") for s in servers],
            ["processes"] + [str(r["servers"][s]["processes"]) for s in servers]]
    for w in WORKLOADS:
        rows.append([f"peak RSS, {TITLES[w]}"] + [fmt(wl(s, w)["peak_rss_kb"] / 1024, 1, " MiB") if wl(s, w) else "–"
                                                   for s in servers])
    last = {s: list(r["servers"][s]["workloads"].values())[-1] for s in servers if r["servers"][s]["workloads"]}
    rows.append(["RSS after the last workload"] + [fmt(last[s]["rss_after_kb"] / 1024, 1, " MiB") if s in last else "–"
                                                   for s in servers])
    rows.append(["PSS after the last workload"] + [fmt(last[s].get("pss_after_kb", 0) / 1024, 1, " MiB") if s in last
                                                   else "–" for s in servers])
    out += [table(["memory"] + servers, rows), ""]
    for s in servers:
        if s in last and last[s]["rss_after_kb"] > 4 * r["servers"][s]["idle_rss_kb"]:
            out += [f"{s} did not give memory back: {last[s]['rss_after_kb'] / 1024:.0f} MiB resident after the last "
                    f"workload against {r['servers'][s]['idle_rss_kb'] / 1024:.0f} MiB idle at start.", ""]

    # Limits.
    lim = r["limits"]
    out += ["## Limits and efficiency", ""]
    rows = []
    argon = lim.get("argon2id")
    if argon:
        for s in servers:
            if s.startswith("imhotep") and wl(s, "w4"):
                rows.append([f"W4 login, {s}", f"{fmt(wl(s, 'w4')['rps'], 1)} req/s",
                             f"argon2id m=19456,t=2,p=1: {fmt(argon['per_second'], 1)} verifications/s "
                             f"({argon['threads']} threads, Rust)", f"{100 * wl(s, 'w4')['rps'] / argon['per_second']:.0f}%"])
    pbkdf2 = lim.get("pbkdf2_django")
    if pbkdf2 and wl("djoser-pg", "w4"):
        rows.append(["W4 login, djoser-pg", f"{fmt(wl('djoser-pg', 'w4')['rps'], 1)} req/s",
                     f"Django PBKDF2-SHA256 {pbkdf2['iterations']:,} iterations: {fmt(pbkdf2['per_second'], 1)} "
                     f"verifications/s ({pbkdf2['processes']} processes)",
                     f"{100 * wl('djoser-pg', 'w4')['rps'] / pbkdf2['per_second']:.0f}%"])
    ceiling = lim.get("http_ceiling")
    if ceiling:
        for s in servers:
            if wl(s, "w2"):
                rows.append([f"W2 verify, {s}", f"{fmt(wl(s, 'w2')['rps'])} req/s",
                             f"axum `{{}}` handler: {fmt(ceiling['rps'])} req/s (p99 {fmt(ms(ceiling['latency_us']['p99']), 2)} ms)",
                             f"{100 * wl(s, 'w2')['rps'] / ceiling['rps']:.0f}%"])
    pgb = lim.get("pgbench")
    if pgb:
        for s in servers:
            if wl(s, "w1") and s.endswith("-pg"):
                rows.append([f"W1 me, {s}", f"{fmt(wl(s, 'w1')['rps'])} req/s",
                             f"pgbench PK select, {pgb['clients']} clients: {fmt(pgb['tps'])} tps "
                             f"(p99 {fmt(pgb['p99_ms'], 2)} ms)", f"{100 * wl(s, 'w1')['rps'] / pgb['tps']:.0f}%"])
    out += [table(["workload", "measured", "limit", "efficiency"], rows), ""]
    if pbkdf2:
        out += ["Login cost differs by hasher: imhotep stores argon2id (m=19456 KiB, t=2, p=1), the reference "
                f"Django's default PBKDF2-SHA256 with {pbkdf2['iterations']:,} iterations, each seeded with a hash made "
                "by its own code. W4 therefore compares two different password costs; the efficiency column compares "
                "each server with its own hasher's raw rate.", ""]
    probes = [(s, wl(s, "w4")["healthz_probe"]) for s in servers if wl(s, "w4") and wl(s, "w4").get("healthz_probe")]
    if probes:
        out += ["`GET /healthz` on a fresh connection every 50 ms during W4's measured run (the reference has no "
                "such route: its 404 goes through the same gunicorn workers):", ""]
        out += [table(["server", "probes", "p50", "p99", "max", "statuses", "failed"],
                      [[s, p["samples"], fmt(p["p50_ms"], 1, " ms"), fmt(p["p99_ms"], 1, " ms"),
                        fmt(p["max_ms"], 1, " ms"), ", ".join(f"{k}×{v}" for k, v in p["statuses"].items()),
                        p["failures"]] for s, p in probes]), ""]

    # Scale.
    if r.get("scale"):
        out += ["## Scale", "",
                f"W1 and W3 again on a fresh database with {cfg['scale_users']:,} users, {cfg['scale_outstanding']:,} "
                f"outstanding and {cfg['scale_blacklisted']:,} blacklisted refresh tokens (bulk-seeded with "
                "`INSERT ... SELECT generate_series`, one password hash for every user), compared with the "
                f"{cfg['users']:,}-user run.", ""]
        rows = []
        for s, data in r["scale"].items():
            for w in ("w1", "w3"):
                big = data["workloads"].get(w)
                small = wl(s, w) if s in r["servers"] else None
                if not big:
                    continue
                rows.append([s, TITLES[w], fmt(small["rps"]) if small else "–", fmt(big["rps"]),
                             ratio(big["rps"], small["rps"] if small else None),
                             fmt(ms(small["latency_us"]["p99"]), 1) if small else "–", fmt(ms(big["latency_us"]["p99"]), 1),
                             f"{big['errors']} ({big['warmup']['errors']})"])
        out += [table(["server", "workload", f"req/s, {cfg['users']:,} users", f"req/s, {cfg['scale_users']:,} users",
                       "ratio", "p99 ms (small)", "p99 ms (large)", "errors"], rows), ""]
        out += ["Seeding time: " + ", ".join(f"{s} {d['seed_seconds']:.0f} s" for s, d in r["scale"].items()) + ".", ""]

    # Mail.
    rows = []
    for s in servers:
        counts = r["servers"][s].get("counts", {})
        sink = r["servers"][s].get("mail_sink", {})
        outbox = counts.get("outbox")
        rows.append([s, counts.get("registered", "–"), sink.get("messages", "–"),
                     ", ".join(f"{k} {v}" for k, v in sorted(outbox.items())) if outbox else "–"])
    out += ["## Registration e-mail", "",
            "Users created by W5 and W6, activation mails the SMTP sink received by the time the server was stopped, "
            "and imhotep's outbox at that moment:", "",
            table(["server", "registered", "mails received", "outbox"], rows), ""]

    # Setup and workloads.
    out += ["## What was run", "",
            f"- **Load**: [wrk](https://github.com/wg/wrk) on the same machine, `-t {cfg['wrk_threads']} -c {cfg['connections']}"
            f" --timeout 30s`, {cfg['warmup_s']} s warm-up then {cfg['duration_s']} s measured, per workload and server, "
            f"one [Lua script](bench/wrk/workload.lua) for all workloads. wrk shares the {mach['nproc']} cores with the "
            "server and PostgreSQL, so every number here includes that contention.",
            f"- **Users**: {cfg['users']:,} active users `user<i>@example.com` seeded directly in SQL into each fresh "
            "database, all with one known password (one hash computed once per hasher).",
            "- **Tokens**: W1/W2 use access tokens of 10,000 random users; W3/W6 present refresh tokens minted by the "
            "harness (HS256 with the servers' shared `SECRET_KEY`, SimpleJWT's claims), each used exactly once, and "
            "recorded as outstanding before the run as a login would have; the warm-up's rate decides how many.",
            "- **imhotep**: `target/release/imhotep serve`, `DEBUG=false`, `RUST_LOG=warn`, default settings "
            "(pool of 10 database connections, password hashing limited to one per core, activation e-mail on), "
            "once on a fresh PostgreSQL database and once on a fresh SQLite file.",
            f"- **Reference**: `shared/reference-djoser` (Django + djoser + SimpleJWT) under "
            f"gunicorn with {cfg['gunicorn_workers']} sync workers (gunicorn's recommended 2 × cores + 1), "
            "`CONN_MAX_AGE=60`, its own fresh database in the same PostgreSQL. Its sync workers close the connection "
            "after every response, so wrk reconnects for each request; that is how the reference serves.",
            "- **E-mail**: both servers send over SMTP to a minimal sink ([bench/smtp_sink.py](bench/smtp_sink.py)) "
            "that accepts and discards every message. Djoser sends inside the request; imhotep queues the mail in "
            "its outbox and delivers it in the background.",
            "- **Limits**: raw argon2id rate from [bench/ceiling](bench/ceiling/) (`argon2-rate`, Rust, the `argon2` "
            "crate imhotep uses, one thread per core; at the run's start, and for 5 s right before each imhotep "
            "server's W4); Django's PBKDF2 rate with its own hasher in its venv, one "
            "process per core; the framework ceiling is an axum server answering `{}` to W2's requests; the database "
            "ceiling is `pgbench -M prepared -c <connections>` selecting one user row by primary key.",
            "",
            "| workload | request |",
            "|---|---|",
            "| W1 | `GET /api/auth/users/me/` with `Authorization: Bearer <access>`, cycling through 10,000 users' tokens |",
            "| W2 | `POST /api/auth/jwt/verify/` `{\"token\": <access>}` |",
            "| W3 | `POST /api/auth/jwt/refresh/` `{\"refresh\": <unused refresh token>}`; rotation and blacklist-after-rotation on |",
            "| W4 | `POST /api/auth/jwt/create/` `{\"email\", \"password\"}` of a random seeded user |",
            "| W5 | `POST /api/auth/users/` `{\"email\", \"password\", \"re_password\"}` with a new e-mail each time; activation mail sent |",
            "| W6 | a fixed interleaved cycle of 100 requests: 80 W1, 15 W3, 4 W4, 1 W5 |",
            "",
            "## Reproduce", "",
            "```sh",
            "bash bench/run.sh                 # full run: ~20-25 min on 2 cores; writes this file",
            "bash bench/run.sh --quick         # CI smoke run: imhotep only, 3 s per workload, writes bench/quick/",
            "bash bench/run.sh --help          # --users N, --connections C, --duration S, --no-scale, --no-reference, ...",
            "```",
            "",
            f"Release build times in this run: imhotep {fmt(r['build_seconds']['imhotep_release'], 0, ' s')}, "
            f"bench/ceiling {fmt(r['build_seconds']['bench_ceiling_release'], 0, ' s')} (0-few s when up to date).",
            ""]
    return "\n".join(out)


if __name__ == "__main__":
    source = (Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results.json").resolve()
    data = json.loads(source.read_text())
    target_md = ROOT / "BENCHMARKS.md" if source.parent == ROOT / "bench" else source.parent / "BENCHMARKS.md"
    write(data, target_md, source.parent / "requests_per_second.png")
    print(f"wrote {target_md}")

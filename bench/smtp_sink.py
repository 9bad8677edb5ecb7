"""A minimal SMTP sink for the benchmarks: accepts every message on 127.0.0.1:PORT and throws it away.

    python3 smtp_sink.py PORT

Speaks just enough SMTP for lettre (imhotep) and Django's smtplib backend: EHLO/HELO, MAIL, RCPT,
DATA, RSET, NOOP, QUIT; no TLS, no AUTH. On SIGTERM it prints {"messages": N, "connections": N}
and exits. Standard library only.
"""
import asyncio
import json
import signal
import sys

stats = {"messages": 0, "connections": 0}


async def session(reader, writer):
    stats["connections"] += 1
    writer.write(b"220 bench-sink ESMTP\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == b"DATA":
                writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                await writer.drain()
                while True:
                    data = await reader.readline()
                    if not data or data in (b".\r\n", b".\n"):
                        break
                stats["messages"] += 1
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:  # HELO, MAIL, RCPT, RSET, NOOP, anything else
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(session, "127.0.0.1", port, limit=1 << 20)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

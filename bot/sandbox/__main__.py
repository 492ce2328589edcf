"""``python -m bot.sandbox [--port N] [--token T] [--staff-group ID]``: run the emulator and its browser
page alone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.sandbox.server import serve_sandbox


async def _main(host: str, port: int, token: str, staff_group: int | None) -> None:
    emu = await serve_sandbox(host, port, token, staff_group=staff_group)
    print(f"Bot API: {emu.base_url}  token: {token}\nSandbox page: {emu.base_url}/sandbox/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator with a browser sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:SANDBOX")
    parser.add_argument("--staff-group", type=int, help="id of a forum supergroup to create, e.g. -1001000000001")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.host, args.port, args.token, args.staff_group))


if __name__ == "__main__":
    main()

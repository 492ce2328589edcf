"""``python -m bot.sandbox [--port N] [--token T]``: run the emulator and its browser page alone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.sandbox.server import serve_sandbox


async def _main(host: str, port: int, token: str) -> None:
    emu = await serve_sandbox(host, port, token)
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
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.host, args.port, args.token))


if __name__ == "__main__":
    main()

"""A real `websockets` client using the library's own reconnect loop, logging at INFO.

Usage: ws_client.py URI LOGFILE. Logs "session open" (its own line) on every connection; the
library logs "connect failed; reconnecting in D seconds: EXC" for every failed attempt.
"""
import asyncio
import logging
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def main(uri):
    app = logging.getLogger("client")
    async for websocket in connect(uri):
        app.info("session open")
        try:
            async for _ in websocket:
                pass
        except ConnectionClosed:
            continue


logging.basicConfig(
    filename=sys.argv[2],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
)
asyncio.run(main(sys.argv[1]))

"""A real `websockets` server on 127.0.0.1:PORT that keeps every connection open.

Prints `listening` on stdout once it accepts connections; the test stops it with SIGKILL
(the client then sees its connection drop) and starts it again on the same port.
"""
import asyncio
import sys

from websockets.asyncio.server import serve


async def hold(websocket):
    async for _ in websocket:
        pass


async def main(port):
    async with serve(hold, "127.0.0.1", port):
        print("listening", flush=True)
        await asyncio.get_running_loop().create_future()


asyncio.run(main(int(sys.argv[1])))

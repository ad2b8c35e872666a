"""Plain GETs that read the whole answer, then connections reset (SO_LINGER 0) before
sending anything, then plain GETs again, all to 127.0.0.1:PORT.

Usage: reset_client.py PORT OK_BEFORE RESETS OK_AFTER
"""
import socket
import struct
import sys
import urllib.request

port, ok_before, resets, ok_after = (int(a) for a in sys.argv[1:5])


def get():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as answer:
        answer.read()


for _ in range(ok_before):
    get()
for _ in range(resets):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
for _ in range(ok_after):
    get()

#!/usr/bin/env python3
"""Print a TCP port that is free on 127.0.0.1 right now.

The kernel picks it (bind to port 0); the socket is closed before printing, so a
caller that then starts a server on it must still be ready to retry on a clash.
"""
import socket

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])

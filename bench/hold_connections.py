#!/usr/bin/env python3
"""Holds hostile connections open against a server until killed (make bench):
IDLE connections that send nothing, and SLOWLORIS connections that trickle a header line
byte by byte and never finish it. A connection the server closes (idle or header timeout)
is opened again, so the counts stay up. Prints "ready" once all are open."""
import select
import socket
import sys
import resource
import time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 2,000+ sockets

port, n_idle, n_slow = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    return s


idle = [connect() for _ in range(n_idle)]
slow = [connect() for _ in range(n_slow)]
for s in slow:
    s.send(b"GET /healthz HTTP/1.1\r\n")
print("ready", flush=True)
reopened = 0
while True:
    time.sleep(0.5)
    for group, greet in ((idle, None), (slow, b"GET /healthz HTTP/1.1\r\n")):
        poller = select.poll()
        for i, s in enumerate(group):
            poller.register(s.fileno(), select.POLLIN)
        index = {s.fileno(): i for i, s in enumerate(group)}
        for fd, _ in poller.poll(0):  # the server closed it (or answered 408): open another
            i = index[fd]
            s = group[i]
            s.close()
            group[i] = connect()
            if greet:
                group[i].send(greet)
            reopened += 1
    for s in slow:
        try:
            s.send(b"X")
        except OSError:
            pass

#!/usr/bin/env python3
"""The other end of --console-socket for agent.sh: accept one connection on SOCKET, take the
pty master the runtime sends (SCM_RIGHTS, the pty name as payload), copy what the container
writes to OUTFILE until the pty closes. Exits 1 if no fd came within 30 s.

usage: recvtty.py SOCKET OUTFILE"""
import array
import os
import signal
import socket
import sys

sock_path, out_path = sys.argv[1], sys.argv[2]
signal.alarm(30)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(1)
conn, _ = srv.accept()
fds = array.array("i")
msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
conn.close()
srv.close()
os.unlink(sock_path)
if not fds:
    sys.exit(1)
master = fds[0]
signal.alarm(60)
with open(out_path, "wb") as out:
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:  # EIO: the last slave fd closed (the container exited)
            break
        if not b:
            break
        out.write(b)
        out.flush()

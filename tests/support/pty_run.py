"""Runs a command in a pseudo-terminal of a given size and writes everything it printed there
(raw bytes, escape sequences included) to stdout; exits with the command's exit code.

Tests use it to see what a user at a terminal sees: progress redrawn at a narrow width, a
prompt after the plan, Ctrl-D at the prompt. Stdlib only.

Usage: pty_run.py [--cols N] [--rows N] [--answer TEXT --after PATTERN] [--timeout S] -- CMD...
  --after/--answer: once PATTERN has been printed, type TEXT (Python escapes: "\\x04" is Ctrl-D).
"""

import argparse
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cols", type=int, default=80)
    p.add_argument("--rows", type=int, default=24)
    p.add_argument("--after")
    p.add_argument("--answer")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    master, slave = os.openpty()
    # The size is set before the command starts, so its first look at the terminal sees it.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", a.rows, a.cols, 0, 0))
    child = subprocess.Popen(
        cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True
    )
    os.close(slave)
    answer = a.answer.encode().decode("unicode_escape").encode() if a.answer else None
    seen = b""
    out = sys.stdout.buffer
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            out.write(data)
            seen += data
            if answer is not None and a.after.encode() in seen:
                os.write(master, answer)
                answer = None
        elif child.poll() is not None:
            break
    else:
        child.kill()
        out.flush()
        sys.stderr.write(f"pty_run.py: timed out after {a.timeout} s\n")
        sys.exit(124)
    out.flush()
    sys.exit(child.wait())


if __name__ == "__main__":
    main()

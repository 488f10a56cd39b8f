"""The kernel inside the sandbox: ipykernel on listening sockets that the grader made.

``python -m course_utils.grading.kernel -f CONNECTION_FILE`` starts an IPython
kernel as ``ipykernel_launcher`` does, except that it creates no socket of its
own. The grader created and bound each of the kernel's five ZeroMQ sockets as
a Unix socket in a folder of its own, which the sandbox cannot see, and the
kernel inherited the listening file descriptors (``$COURSE_KERNEL_SOCKETS``,
``port=fd`` pairs); ZeroMQ adopts them (``ZMQ_USE_FD``). So the kernel needs
no network (the sandbox has none) and no shared folder, and nothing a notebook
does can move, replace or redirect the sockets that the grader talks to.
"""

from __future__ import annotations

import os
import sys

SOCKETS_ENV = "COURSE_KERNEL_SOCKETS"


def parse_sockets(text: str) -> dict[int, int]:
    """``"1=5,2=6"`` -> ``{1: 5, 2: 6}`` (port -> inherited file descriptor).

    >>> parse_sockets("1=5,2=6")
    {1: 5, 2: 6}
    """
    return {int(port): int(fd) for port, fd in (item.split("=") for item in text.split(",") if item)}


def main() -> None:
    listening = parse_sockets(os.environ.pop(SOCKETS_ENV, ""))
    # The sandbox's own init is our parent: ipykernel must not take it for a frontend that went away.
    os.environ.pop("JPY_PARENT_PID", None)

    import zmq
    from ipykernel.heartbeat import Heartbeat
    from ipykernel.kernelapp import IPKernelApp

    class InheritedHeartbeat(Heartbeat):
        def _try_bind_socket(self):
            self.socket.setsockopt(zmq.USE_FD, listening[self.port])
            return super()._try_bind_socket()

    class SandboxKernelApp(IPKernelApp):
        def _try_bind_socket(self, s, port):
            s.setsockopt(zmq.USE_FD, listening[port])
            return super()._try_bind_socket(s, port)

        def init_heartbeat(self):
            self.heartbeat = InheritedHeartbeat(zmq.Context(), (self.transport, self.ip, self.hb_port),
                                                curve_publickey=self.curve_publickey,
                                                curve_secretkey=self.curve_secretkey)
            self.hb_port = self.heartbeat.port
            self.heartbeat.start()

    SandboxKernelApp.launch_instance(argv=sys.argv[1:])


if __name__ == "__main__":
    main()

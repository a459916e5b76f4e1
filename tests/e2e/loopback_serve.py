"""``imagecaption`` with a name resolver that answers 127.0.0.1 for every host, for property tests.

Generated inputs include URLs of every shape (``http://8.8.8.8/``, ``https://example.org/``);
the server would fetch them. Run through here, every name and every address literal the
server's URL fetcher resolves is loopback, so nothing a generated URL names is ever contacted
beyond this machine, and no name lookup leaves it either. The server is otherwise the real one.
"""

from __future__ import annotations

import socket
from typing import Any

_real_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(
    host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> Any:
    return _real_getaddrinfo("127.0.0.1", port, socket.AF_INET, type, proto, flags)


if __name__ == "__main__":
    socket.getaddrinfo = _loopback_getaddrinfo
    from imagecaption.cli import main

    main()

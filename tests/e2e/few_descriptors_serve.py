"""``imagecaption`` in a process that may open only ``DESCRIPTORS`` files, soft and hard limit
(the ``RLIMIT_NOFILE`` environment variable, if set, says how many).

A server's descriptor limit is usually set by its service manager or ``ulimit -n``; this sets it
the same way (``setrlimit`` before anything is opened) so that a test can exhaust it with a few
hundred loopback connections instead of tens of thousands. The server is otherwise the real one.
"""

from __future__ import annotations

import os
import resource

DESCRIPTORS = int(os.environ.get("RLIMIT_NOFILE", "256"))

if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))
    from imagecaption.cli import main

    main()

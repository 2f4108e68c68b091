"""How a TCP/UDP gateway process (JT/T 808, GB/T 28181) is run: until SIGINT/SIGTERM, or until a caller in another
thread sets an event (the tests run a gateway in a thread of their own)."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable


def serve_until_stopped(serve: Callable[[asyncio.Event], Awaitable[None]], stop: threading.Event | None = None) -> None:
    """Run `serve(done)` in a new event loop; `done` is set by SIGINT/SIGTERM, or by `stop` when one is given."""

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        if stop is None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, done.set)
        else:
            threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True).start()
        await serve(done)

    asyncio.run(main())

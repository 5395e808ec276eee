"""Run the bot with the fake copilot as its own process (multi-process tests).

``python fakes/bot_process.py PORT`` serves on 127.0.0.1:PORT with the settings
from the environment; the app database is real, the copilot is the fake.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakes.bot_services import services_factory
from fakes.copilot import FakeCopilot, copilot_factory

from bot.app import create_app
from tools.settings import load_settings


def main() -> None:
    app = create_app(
        load_settings(),
        services_factory=services_factory(),
        copilot_factory=copilot_factory(FakeCopilot(delay_s=0.05)),
    )
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()

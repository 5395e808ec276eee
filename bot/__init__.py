"""The Teams host: aiohttp app, botbuilder adapter, handler, cards, terminal chat."""

"""Embedded reference servers (asyncio) on the shared mail store."""

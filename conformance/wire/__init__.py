"""Sans-IO protocol codecs: bytes in, typed events out. No sockets here."""

"""The decision tick: observation in, decision out. No I/O here."""

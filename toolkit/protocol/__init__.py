"""The serial protocol (docs/protocol.md): framing (pure functions) and Client."""

"""`toolkit verify` as a library: run.verify() returns the report dict;
report/plot write it out.  See docs/protocol.md, "Verification"."""

"""The pure core: topology, routing, retry policy, decisions, audit chain, row types. No I/O."""

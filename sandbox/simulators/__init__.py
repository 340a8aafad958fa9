"""The four external systems, simulated as real servers or AMQP clients on loopback."""

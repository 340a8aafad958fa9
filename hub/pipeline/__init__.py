"""The consume path: fates, batched transactions, deliveries, relay, deadlines, dead letters."""

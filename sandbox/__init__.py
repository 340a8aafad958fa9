"""The simulated world (not packaged): the four systems as servers, the demo, the fault suite."""

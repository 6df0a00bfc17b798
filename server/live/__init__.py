"""The live side: the hub that pushes fragments to open pages, its brokers and its presence."""

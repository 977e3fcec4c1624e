"""MongoDB access, one module per collection; no HTTP objects in here."""

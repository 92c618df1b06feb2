"""Everything that runs live: the FastAGI server, the ARI adapter, call sessions."""

"""Texts that reach a pool number outside an open conversation: the pair history that
says where they belong (`pairs.py`), the durable record of each text (`records.py`),
and the routing that turns one into a lead or keeps it unrouted (`routing.py`)."""

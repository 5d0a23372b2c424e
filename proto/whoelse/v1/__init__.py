"""Generated WhoElse wire contract (do not edit; see federation/protogen.py)."""

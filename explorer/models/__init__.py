"""The networks: the zoo's registry and builders, their architectures, and what the pages
say about them (layer tables, diagrams, state_dict I/O, the course's facts)."""

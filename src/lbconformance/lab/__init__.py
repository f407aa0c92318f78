"""The reference lab: a Debian VM with a real IPVS kernel, the seed's deployment inside it, and its faults."""

"""Guardian consent for children under 13, with the code a child hands to a guardian (service)."""

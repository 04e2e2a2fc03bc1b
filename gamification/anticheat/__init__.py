"""Anti-cheat: what makes a ride implausible (rules) and the verdict read with the rider's standing
(service)."""

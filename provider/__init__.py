"""pvenet's Pulumi dynamic providers and their pure core (model, ifupdown, plan)."""

"""Live hand-off to a person: the store, the tool and the business-hours calendar."""

"""Tickets: the contract, the embedded service desk and ServiceNow."""

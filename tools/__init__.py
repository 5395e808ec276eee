"""Tools the agent can call, the backends behind them, and the registry."""

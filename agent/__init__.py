"""The LangGraph agent: state, prompts, models, checkpointer, graph, runner."""

"""Knowledge search: the contract, the embedded engine, Azure AI Search, ingestion."""

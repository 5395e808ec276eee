"""Asset provisioning: the catalogue of software, hardware and access employees can ask for."""

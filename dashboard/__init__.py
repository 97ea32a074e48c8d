"""The HTTP API and the live dashboard over the CRM (`tierline serve`)."""

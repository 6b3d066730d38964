"""CRM API: a multi-tenant CRM backend."""

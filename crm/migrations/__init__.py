"""Alembic migrations of the CRM database (run by :func:`tierline.crm.db.migrate`)."""

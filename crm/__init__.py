"""The CRM record: customers, every call, turn, tier and decision, and an audit log.

:mod:`tierline.crm.db` opens the database (SQLite by default, PostgreSQL by URL) and brings its
schema to the current Alembic revision; :mod:`tierline.crm.store` is what transports write
calls through, turn by turn; :mod:`tierline.crm.importer` reads customer CSV files;
:mod:`tierline.crm.queries` answers the API and the dashboard.
"""

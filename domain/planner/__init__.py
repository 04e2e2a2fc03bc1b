"""Planner exports: the audit log (tables), the export request and aggregation rules (rules), the
statements (store), the streamed, audited export (service), and a school's route report."""

"""The operator and shift-lead web UI: one blueprint per package, thin views over the domain."""

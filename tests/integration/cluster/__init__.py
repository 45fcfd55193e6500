"""Tests on the local multi-broker cluster (a package, so its fixture can be package-scoped:
the cluster runs only while these tests do)."""

"""Subscription rules: SQL and correlation filters, rule actions."""

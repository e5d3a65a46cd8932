"""Delivery: the message (headers, MIME), the SMTP pool, the ledger and the send pipeline."""

"""The commission stage's pure decisions (plans applied, the ledger) and statements."""

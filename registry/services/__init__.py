"""Every change of state goes through a function here: authorize, validate, write in one transaction,
audit, and schedule side effects on commit."""

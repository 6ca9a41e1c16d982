"""The billing database: the schema contract, engines and transactions (the guard is in protocols/)."""

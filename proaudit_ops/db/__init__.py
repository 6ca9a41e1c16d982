"""The billing database: schema contract, engines and transactions, the change guard."""

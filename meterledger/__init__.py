"""meterledger: the usage-based-billing warehouse between usage meters, Salesforce and NetSuite."""

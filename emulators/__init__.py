"""Local emulators of the NetSuite and Salesforce APIs, and the demo-data generator."""

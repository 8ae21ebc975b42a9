"""Authenticated HTTP connections to NetSuite and Salesforce, shared by ingestion and reverse ETL.

Only base URL, account ID, credentials and the CA bundle are configuration: the same code talks
to the real services and to the local emulators.
"""

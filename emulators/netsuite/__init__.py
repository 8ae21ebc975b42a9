"""The NetSuite SuiteTalk REST emulator (see ``app.NetSuiteApp``)."""
from emulators.netsuite.app import NetSuiteApp

__all__ = ["NetSuiteApp"]

from meterledger.cli import run

run()

"""Static catalogue of the demo world: meters, usage sources, products, currencies,
subsidiaries, chart of accounts and list-price templates.

The meter list mirrors dbt_project/seeds/meters.csv (a test keeps the two equal); it is copied
rather than read so the generator works from an installed package without the dbt project.
"""

from __future__ import annotations

from decimal import Decimal as D

# meter_id -> (aggregation, property, unit)
METERS: dict[str, tuple[str, str, str]] = {
    "api_calls": ("sum", "quantity", "call"),
    "compute_hours": ("sum", "quantity", "hour"),
    "storage_gb": ("max", "quantity", "GB"),
    "active_users": ("unique_count", "user_id", "user"),
    "messages": ("count", "", "message"),
    "seats": ("latest", "quantity", "seat"),
    "payments_volume": ("sum", "amount", "money"),
}

# Short suffix of a usage line's key: K0001-api, K0001-payments, ...
LINE_SUFFIX = {
    "api_calls": "api", "compute_hours": "compute", "storage_gb": "storage",
    "active_users": "users", "messages": "messages", "seats": "seats",
    "payments_volume": "payments",
}

# Charge models a meter may be priced with; percentage models need the money base `amount`.
MODELS = {
    "api_calls": ("unit", "graduated", "volume", "package"),
    "compute_hours": ("unit", "graduated"),
    "storage_gb": ("unit", "volume"),
    "active_users": ("unit", "graduated", "volume"),
    "messages": ("unit", "graduated", "package"),
    "seats": ("unit", "volume"),
    "payments_volume": ("percentage", "graduated_percentage"),
}

# Two metering sources with different file formats and delivery behaviour:
# product_api streams events and drops them the same day (JSON Lines);
# batch_metering exports readings once a day for the previous day (Parquet).
SOURCES = {
    "product_api": {
        "format": "jsonl", "delivery_lag_days": 0, "files_per_day": 3,
        "meters": ("api_calls", "messages", "active_users", "payments_volume"),
    },
    "batch_metering": {
        "format": "parquet", "delivery_lag_days": 1, "files_per_day": 2,
        "meters": ("compute_hours", "storage_gb", "seats"),
    },
}
SOURCE_OF_METER = {m: s for s, cfg in SOURCES.items() for m in cfg["meters"]}

# Relative event volume per meter (readings such as storage or seats are rare).
METER_VOLUME = {
    "api_calls": 10.0, "messages": 8.0, "active_users": 5.0, "payments_volume": 4.0,
    "compute_hours": 3.0, "storage_gb": 0.6, "seats": 0.4,
}

# Non-usage products (Contract_Line__c.Product__c and NetSuite item externalId).
# credit_applied is not on any line: invoices need an item for prepaid drawdown lines.
PRODUCTS = {
    "platform_fee": "Platform subscription",
    "premium_support": "Premium support",
    "onboarding_fee": "Onboarding and setup",
    "minimum_commitment": "Minimum commitment",
    "prepaid_credits": "Prepaid usage credits",
    "credit_applied": "Prepaid credit applied",
}
METER_NAMES = {
    "api_calls": "API calls", "compute_hours": "Compute hours", "storage_gb": "Storage (GB peak)",
    "active_users": "Active users", "messages": "Messages", "seats": "Seats",
    "payments_volume": "Payment processing",
}

# code -> (name, minor units). JPY has no minor unit: every JPY money amount is whole.
CURRENCIES = {"USD": ("US Dollar", 2), "EUR": ("Euro", 2), "JPY": ("Japanese Yen", 0)}
# Price-list conversion from the USD list (not the accounting rate, which moves daily).
PRICE_FACTOR = {"USD": D(1), "EUR": D("0.92"), "JPY": D(150)}

# code -> (name, base currency, country). JPY customers are billed by the EU entity.
SUBSIDIARIES = {
    "US": ("Meterledger Inc.", "USD", "US"),
    "EU": ("Meterledger Europe B.V.", "EUR", "NL"),
}

# Chart of accounts used by the journal entries; externalId is the account role.
ACCOUNTS = [
    ("ar", "1200", "Accounts Receivable", "AcctRec"),
    ("unbilled_ar", "1210", "Unbilled Receivables", "OthCurrAsset"),
    ("deferred_revenue", "2400", "Deferred Revenue", "DeferRevenue"),
    ("deferred_revenue_prepaid", "2410", "Deferred Revenue - Prepaid Credits", "DeferRevenue"),
    ("revenue_subscription", "4000", "Subscription Revenue", "Income"),
    ("revenue_usage", "4100", "Usage Revenue", "Income"),
    ("revenue_minimum", "4200", "Minimum Commitment Revenue", "Income"),
    ("revenue_breakage", "4300", "Prepaid Credit Breakage Revenue", "Income"),
]

# USD list prices. Tiers: (up_to, unit_price, flat_fee); up_to None = unbounded.
UNIT_PRICE = {
    "api_calls": D("0.0020"), "compute_hours": D("0.12"), "storage_gb": D("0.10"),
    "active_users": D("4.00"), "messages": D("0.0075"), "seats": D("12.00"),
}
TIERS = {
    "api_calls": [(50000, D("0.0025"), D(25)), (250000, D("0.0020"), D(0)), (None, D("0.0015"), D(0))],
    "compute_hours": [(100, D("0.15"), D(0)), (500, D("0.12"), D(0)), (None, D("0.09"), D(0))],
    "storage_gb": [(500, D("0.12"), D(0)), (2000, D("0.10"), D(0)), (None, D("0.08"), D(0))],
    "active_users": [(50, D("5.00"), D(0)), (200, D("4.00"), D(0)), (None, D("3.00"), D(0))],
    "messages": [(10000, D("0.0100"), D(0)), (100000, D("0.0075"), D(0)), (None, D("0.0050"), D(0))],
    "seats": [(25, D("15.00"), D(0)), (100, D("12.00"), D(0)), (None, D("10.00"), D(0))],
}
PACKAGE = {"api_calls": (10000, D("18.00")), "messages": (1000, D("7.00"))}  # size, price
# Percent of the amount. Tier bounds of graduated_percentage are money (converted per currency).
PERCENT_RATE = D("2.9")
PERCENT_TIERS = [(10000, D("3.0"), D(0)), (100000, D("2.5"), D(0)), (None, D("2.0"), D(0))]

# Typical included allowance per full billing month, by meter.
INCLUDED = {
    "api_calls": 20000, "compute_hours": 50, "storage_gb": 100, "active_users": 10,
    "messages": 5000, "seats": 5,
}

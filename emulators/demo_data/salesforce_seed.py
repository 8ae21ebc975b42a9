"""Salesforce seed: the records of object-model.md "Salesforce", references by Id.

Every field of the doc is present on every record (null when it does not apply), so loaders
see a stable schema. Ids are real-shaped 18-character ids with sequential bodies per object.
Audit timestamps all lie before the demo range starts: the seed is the org as it was when the
demo begins, and anything an incremental sync sees later is newer.
"""

from __future__ import annotations

import random
from decimal import Decimal
from datetime import date, datetime, time, timedelta

from .contracts import Amendment, Contract, Line, Tier
from .util import sf_id

PREFIX = {"Account": "001", "Contract": "800", "Contract_Line__c": "a01", "Price_Tier__c": "a02",
          "Amendment__c": "a03", "Usage_Summary__c": "a04"}


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


class _Records:
    def __init__(self, rng: random.Random, range_start: date):
        self.rng = rng
        self.cap = datetime.combine(range_start, time()) - timedelta(seconds=1)
        self.data: dict[str, list] = {obj: [] for obj in PREFIX}

    def add(self, obj: str, around: date, **fields) -> str:
        """Append a record created a little before `around` (never after the range start)."""
        rng = self.rng
        created = datetime.combine(around, time()) - timedelta(days=rng.randint(3, 40),
                                                                seconds=rng.randint(0, 86399))
        created = min(created, self.cap - timedelta(days=1, seconds=rng.randint(0, 86399)))
        # created is at least a day before cap, so the jittered cap still keeps modified >= created
        modified = min(created + timedelta(days=rng.randint(0, 10), seconds=rng.randint(0, 7200)),
                       self.cap - timedelta(seconds=rng.randint(0, 36000)))
        rid = sf_id(PREFIX[obj], len(self.data[obj]))
        c, m = (f"{x:%Y-%m-%dT%H:%M:%S}.000+0000" for x in (created, modified))
        self.data[obj].append({"Id": rid, "IsDeleted": False, "CreatedDate": c,
                               "LastModifiedDate": m, "SystemModstamp": m, **fields})
        return rid


def _tier_fields(t: Tier, n: int) -> dict:
    return {"Tier_Number__c": n, "Up_To__c": t.up_to, "Unit_Price__c": t.unit_price,
            "Flat_Fee__c": t.flat_fee, "Rate__c": t.rate}


def _line_fields(ln: Line) -> dict:
    return {
        "Line_Key__c": ln.key, "Kind__c": ln.kind, "Product__c": ln.product, "Meter__c": ln.meter,
        "Amount__c": ln.amount, "Timing__c": ln.timing, "Revenue_Rule__c": ln.revenue_rule,
        "Price_Model__c": ln.price_model, "Unit_Price__c": ln.unit_price,
        "Package_Size__c": ln.package_size, "Package_Price__c": ln.package_price,
        "Free_Units__c": ln.free_units, "Rate__c": ln.rate, "Fixed_Fee__c": ln.fixed_fee,
        "Free_Events__c": ln.free_events, "Free_Amount__c": ln.free_amount,
        "Min_Per_Event__c": ln.min_per_event, "Max_Per_Event__c": ln.max_per_event,
        "Included_Quantity__c": ln.included_quantity,
        "Applies_To__c": ";".join(ln.applies_to) if ln.applies_to else None,
        "Purchase_Date__c": _iso(ln.purchase_date), "Expiry_Date__c": _iso(ln.expiry_date),
        "Breakage__c": ln.breakage, "Expected_Breakage_Rate__c": ln.expected_breakage_rate,
        "Charge_Date__c": _iso(ln.charge_date),
    }


def _amendment_fields(a: Amendment) -> dict:
    return {"Amendment_Key__c": a.key, "Type__c": a.type, "Effective_Date__c": _iso(a.effective_date),
            "Status__c": a.status, "Cancel__c": a.cancel, "New_Amount__c": a.new_amount,
            "New_Included_Quantity__c": a.new_included_quantity,
            "New_Unit_Price__c": a.new_unit_price, "New_Price_Model__c": a.new_price_model}


# A CRM data defect the warehouse must survive (issue 22): a Salesforce currency field has one
# scale for every currency, so a JPY line can be sold at 4500.50, which no JPY invoice can carry.
# The daily build quarantines it (stg_salesforce__quarantined_contract_terms); it is never billed.
TOO_FINE_LINE_SUFFIX = "support-sen"
TOO_FINE_AMOUNT = {0: Decimal("4500.50"), 2: Decimal("99.995")}  # by the currency's minor units


def _too_fine_line(contracts: list[Contract]) -> tuple[Contract, Line]:
    """A recurring fee whose amount is finer than its currency: on the first JPY contract, else on
    the first contract (a USD amount of 3 decimals)."""
    contract = next((c for c in contracts if c.customer.currency == "JPY"), contracts[0])
    amount = TOO_FINE_AMOUNT[0 if contract.customer.currency == "JPY" else 2]
    return contract, Line(key=f"{contract.key}-{TOO_FINE_LINE_SUFFIX}", number=len(contract.lines) + 1,
                          kind="recurring_fee", product="premium_support", amount=amount,
                          timing="in_arrears", revenue_rule="ratable_daily")


def build(rng: random.Random, customers, contracts: list[Contract], ns_ids: dict,
          range_start: date, *, data_defects: bool = False) -> dict:
    """The org's records. ``data_defects``: add the CRM defects the demo shows the warehouse
    surviving (the demo data set has them; a simulated scenario holds exactly what it says)."""
    r = _Records(rng, range_start)
    by_customer: dict[str, list[Contract]] = {}
    for c in contracts:
        by_customer.setdefault(c.customer.key, []).append(c)
    account_id = {}
    for cu in customers:
        first = min(c.start for c in by_customer.get(cu.key, [])) if cu.key in by_customer else range_start
        account_id[cu.key] = r.add(
            "Account", first, Name=cu.name, Customer_Key__c=cu.key, CurrencyIsoCode=cu.currency,
            Subsidiary__c=cu.subsidiary, NetSuite_Customer_Id__c=ns_ids["customer"][cu.key],
            Credit_Balance__c=None, Usage_Alert__c=None, Credit_Runout_Date__c=None)
    defect = _too_fine_line(contracts) if contracts and data_defects else None
    for c in contracts:
        cid = r.add("Contract", c.start, AccountId=account_id[c.customer.key], Contract_Key__c=c.key,
                    Status=c.status, StartDate=_iso(c.start), EndDate=_iso(c.end),
                    CurrencyIsoCode=c.customer.currency, Billing_Frequency__c=c.frequency,
                    Billing_Anchor__c=c.anchor,
                    NetSuite_Subscription_Id__c=ns_ids["subscription"].get(c.key))
        line_id = {}
        for ln in c.lines:
            line_id[ln.key] = r.add(
                "Contract_Line__c", c.start, Contract__c=cid, **_line_fields(ln),
                NetSuite_Subscription_Line_Id__c=ns_ids["subscriptionline"].get(ln.key))
            for n, t in enumerate(ln.tiers, start=1):
                r.add("Price_Tier__c", c.start, Contract_Line__c=line_id[ln.key], Amendment__c=None,
                      **_tier_fields(t, n))
        if defect and defect[0] is c:  # only in Salesforce: NetSuite never got the line
            r.add("Contract_Line__c", c.start, Contract__c=cid, **_line_fields(defect[1]),
                  NetSuite_Subscription_Line_Id__c=None)
        for a in c.amendments:
            aid = r.add("Amendment__c", a.effective_date, Contract__c=cid,
                        Contract_Line__c=line_id[a.line_key], **_amendment_fields(a))
            for n, t in enumerate(a.tiers, start=1):
                r.add("Price_Tier__c", a.effective_date, Contract_Line__c=None, Amendment__c=aid,
                      **_tier_fields(t, n))
    return r.data

"""The Salesforce objects loaded, the fields read from each and their warehouse types.

Declaring every column keeps a field that happens to be empty in every record from vanishing
from the raw table (dlt creates no column for all-null data), and a type change fails loudly.
"""
from __future__ import annotations

SYSTEM_FIELDS = {"Id": "text", "IsDeleted": "bool", "CreatedDate": "timestamp",
                 "LastModifiedDate": "timestamp", "SystemModstamp": "timestamp"}

_MONEY = "decimal"
OBJECT_FIELDS: dict[str, dict[str, str]] = {
    "Account": {"Name": "text", "Customer_Key__c": "text", "CurrencyIsoCode": "text",
                "Subsidiary__c": "text", "NetSuite_Customer_Id__c": "text"},
    "Contract": {"AccountId": "text", "Contract_Key__c": "text", "Status": "text", "StartDate": "date",
                 "EndDate": "date", "CurrencyIsoCode": "text", "Billing_Frequency__c": "text",
                 "Billing_Anchor__c": "text", "NetSuite_Subscription_Id__c": "text"},
    "Contract_Line__c": {
        "Contract__c": "text", "Line_Key__c": "text", "Kind__c": "text", "Product__c": "text",
        "Meter__c": "text", "Amount__c": _MONEY, "Timing__c": "text", "Revenue_Rule__c": "text",
        "Price_Model__c": "text", "Unit_Price__c": _MONEY, "Package_Size__c": "decimal",
        "Package_Price__c": _MONEY, "Free_Units__c": "decimal", "Rate__c": "decimal",
        "Fixed_Fee__c": _MONEY, "Free_Events__c": "decimal", "Free_Amount__c": _MONEY,
        "Min_Per_Event__c": _MONEY, "Max_Per_Event__c": _MONEY, "Included_Quantity__c": "decimal",
        "Applies_To__c": "text", "Purchase_Date__c": "date", "Expiry_Date__c": "date",
        "Breakage__c": "text", "Expected_Breakage_Rate__c": "decimal", "Charge_Date__c": "date",
        "NetSuite_Subscription_Line_Id__c": "text"},
    "Price_Tier__c": {"Contract_Line__c": "text", "Amendment__c": "text", "Tier_Number__c": "bigint",
                      "Up_To__c": "decimal", "Unit_Price__c": _MONEY, "Flat_Fee__c": _MONEY,
                      "Rate__c": "decimal"},
    "Amendment__c": {"Contract__c": "text", "Contract_Line__c": "text", "Amendment_Key__c": "text",
                     "Type__c": "text", "Effective_Date__c": "date", "Status__c": "text",
                     "Cancel__c": "bool", "New_Amount__c": _MONEY, "New_Included_Quantity__c": "decimal",
                     "New_Unit_Price__c": _MONEY, "New_Price_Model__c": "text"},
}


def table_name(sobject: str) -> str:
    """The raw table an object lands in (``Contract_Line__c`` -> ``contract_line_c``)."""
    return sobject.lower().replace("__c", "_c")


def column_hints(sobject: str) -> dict[str, dict]:
    fields = {**SYSTEM_FIELDS, **OBJECT_FIELDS[sobject]}
    hints = {}
    for name, data_type in fields.items():
        hint = {"data_type": data_type, "nullable": name != "Id"}
        if data_type == "decimal":
            hint.update(precision=38, scale=9)
        hints[name] = hint
    # When one load holds two versions of a record, the merge keeps the newest.
    hints["SystemModstamp"]["dedup_sort"] = "desc"
    return hints


def soql_for(sobject: str, modified_since: str) -> str:
    """The object's records stamped at or after ``modified_since`` (a SOQL datetime literal).

    ">=": a record stamped in the same instant as the last one loaded is read again rather than
    missed; the incremental cursor drops the ones already loaded.
    """
    fields = ", ".join([*SYSTEM_FIELDS, *OBJECT_FIELDS[sobject]])
    return (f"SELECT {fields} FROM {sobject} WHERE SystemModstamp >= {modified_since} "
            f"ORDER BY SystemModstamp ASC, Id ASC")

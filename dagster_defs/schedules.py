"""The daily schedule: each morning (UTC) the delivery run for the previous day; the daily build
follows it (``daily_billing_after_delivery``)."""

from dagster import build_schedule_from_partitioned_job

from dagster_defs.jobs import usage_delivery

# Sources deliver a day's files by the end of that day; 02:00 leaves them two hours' slack.
usage_delivery_schedule = build_schedule_from_partitioned_job(usage_delivery, hour_of_day=2, minute_of_hour=0)

-- clickpath ClickHouse schema, version 10: the brand and campaign of the player a CPA entry is
-- about (LedgerEntry.player_brand_id, player_campaign_id), so that the cohort report sums the
-- CPA actually accrued per cohort (docs/cohorts.md). Entries written before have them null.
ALTER TABLE {db}.commission_ledger
    ADD COLUMN IF NOT EXISTS player_brand_id Nullable(String) AFTER registered_at,
    ADD COLUMN IF NOT EXISTS player_campaign_id Nullable(String) AFTER player_brand_id;

-- As in version 9, with the two new fields of the earliest copy.
CREATE OR REPLACE VIEW {db}.ledger_entries AS
SELECT affiliate_id,
       period,
       entry_id,
       e.1 AS kind,
       e.2 AS component,
       e.3 AS amount,
       e.4 AS currency,
       e.5 AS original_amount,
       e.6 AS original_currency,
       e.7 AS fx_rate,
       e.8 AS plan_id,
       e.9 AS plan_version,
       e.10 AS player_token,
       e.11 AS caused_by,
       e.12 AS reason,
       e.13 AS occurred_at,
       first_recorded_at AS recorded_at,
       e.14 AS registered_at,
       e.15 AS player_brand_id,
       e.16 AS player_campaign_id,
       '' AS brand_id
FROM
(
    SELECT affiliate_id, period, entry_id,
           argMin(tuple(kind, component, amount, currency, original_amount, original_currency,
                        fx_rate, plan_id, plan_version, player_token, caused_by, reason,
                        occurred_at, registered_at, player_brand_id, player_campaign_id),
                  recorded_at) AS e,
           min(recorded_at) AS first_recorded_at
    FROM {db}.commission_ledger
    GROUP BY affiliate_id, period, entry_id
);

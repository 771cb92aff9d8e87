-- clickpath ClickHouse schema, version 4: the player's value per day (PlayerDayFact v2): FTD
-- sum, declined deposits, withdrawals, chargebacks, stakes, wins, bonus stakes and bonus cost,
-- in the facts, in the summed aggregates and in `funnel_daily` (with GGR and NGR).
--
-- Rows written before this version get 0 in every new column, which is what they hold: facts
-- before v2 carried none of these figures. The measures are listed once in Python
-- (clickpath/domain/measures.py); tests check that these columns agree with that list.

ALTER TABLE {db}.fact_rows
    ADD COLUMN IF NOT EXISTS ftd_sum           Decimal(20, 4) AFTER deposit_sum,
    ADD COLUMN IF NOT EXISTS declined_deposits UInt32         AFTER ftd_sum,
    ADD COLUMN IF NOT EXISTS withdrawals       UInt32         AFTER declined_deposits,
    ADD COLUMN IF NOT EXISTS withdrawal_sum    Decimal(20, 4) AFTER withdrawals,
    ADD COLUMN IF NOT EXISTS chargebacks       UInt32         AFTER withdrawal_sum,
    ADD COLUMN IF NOT EXISTS chargeback_sum    Decimal(20, 4) AFTER chargebacks,
    ADD COLUMN IF NOT EXISTS stakes            Decimal(20, 4) AFTER chargeback_sum,
    ADD COLUMN IF NOT EXISTS wins              Decimal(20, 4) AFTER stakes,
    ADD COLUMN IF NOT EXISTS bonus_stakes      Decimal(20, 4) AFTER wins,
    ADD COLUMN IF NOT EXISTS bonus_cost        Decimal(20, 4) AFTER bonus_stakes;

-- SummingMergeTree sums every numeric column outside the sorting key: the new ones too.
ALTER TABLE {db}.funnel_agg
    ADD COLUMN IF NOT EXISTS ftd_sum           Decimal(38, 4) AFTER deposit_sum,
    ADD COLUMN IF NOT EXISTS declined_deposits Int64          AFTER ftd_sum,
    ADD COLUMN IF NOT EXISTS withdrawals       Int64          AFTER declined_deposits,
    ADD COLUMN IF NOT EXISTS withdrawal_sum    Decimal(38, 4) AFTER withdrawals,
    ADD COLUMN IF NOT EXISTS chargebacks       Int64          AFTER withdrawal_sum,
    ADD COLUMN IF NOT EXISTS chargeback_sum    Decimal(38, 4) AFTER chargebacks,
    ADD COLUMN IF NOT EXISTS stakes            Decimal(38, 4) AFTER chargeback_sum,
    ADD COLUMN IF NOT EXISTS wins              Decimal(38, 4) AFTER stakes,
    ADD COLUMN IF NOT EXISTS bonus_stakes      Decimal(38, 4) AFTER wins,
    ADD COLUMN IF NOT EXISTS bonus_cost        Decimal(38, 4) AFTER bonus_stakes;

-- The facts' view sums the new measures too (sign-weighted, as before). It is re-created while
-- the sink is not consuming yet (migrations run at its start, before repair_funnel), so no
-- insert falls between the two statements.
DROP VIEW IF EXISTS {db}.funnel_facts_mv;

CREATE MATERIALIZED VIEW {db}.funnel_facts_mv TO {db}.funnel_agg AS
SELECT brand_id, day, affiliate_id, campaign_id, currency,
       toInt64(0) AS clicks,
       sum(sign * toInt64(registrations)) AS registrations,
       sum(sign * toInt64(ftds)) AS ftds,
       sum(sign * toInt64(deposits)) AS deposits,
       toDecimal128(sum(sign * deposit_sum), 4) AS deposit_sum,
       toDecimal128(sum(sign * ftd_sum), 4) AS ftd_sum,
       sum(sign * toInt64(declined_deposits)) AS declined_deposits,
       sum(sign * toInt64(withdrawals)) AS withdrawals,
       toDecimal128(sum(sign * withdrawal_sum), 4) AS withdrawal_sum,
       sum(sign * toInt64(chargebacks)) AS chargebacks,
       toDecimal128(sum(sign * chargeback_sum), 4) AS chargeback_sum,
       toDecimal128(sum(sign * stakes), 4) AS stakes,
       toDecimal128(sum(sign * wins), 4) AS wins,
       toDecimal128(sum(sign * bonus_stakes), 4) AS bonus_stakes,
       toDecimal128(sum(sign * bonus_cost), 4) AS bonus_cost
FROM {db}.fact_rows
GROUP BY brand_id, day, affiliate_id, campaign_id, currency;

-- funnel_clicks_mv is kept as it is: it names clicks and the version-3 measures, and the
-- columns it does not name are filled with their default, 0.

-- The documented view keeps its name and columns, and gains the new sums, GGR and NGR.
DROP VIEW IF EXISTS {db}.funnel_daily;

CREATE VIEW {db}.funnel_daily AS
SELECT day, brand_id, affiliate_id, campaign_id, currency,
       sum(clicks) AS clicks,
       sum(registrations) AS registrations,
       sum(ftds) AS ftds,
       sum(deposits) AS deposits,
       sum(deposit_sum) AS deposit_sum,
       sum(ftd_sum) AS ftd_sum,
       sum(declined_deposits) AS declined_deposits,
       sum(withdrawals) AS withdrawals,
       sum(withdrawal_sum) AS withdrawal_sum,
       sum(chargebacks) AS chargebacks,
       sum(chargeback_sum) AS chargeback_sum,
       sum(stakes) AS stakes,
       sum(wins) AS wins,
       sum(bonus_stakes) AS bonus_stakes,
       sum(bonus_cost) AS bonus_cost,
       stakes - wins AS ggr,
       ggr - bonus_cost - chargeback_sum AS ngr
FROM {db}.funnel_agg
GROUP BY day, brand_id, affiliate_id, campaign_id, currency
HAVING clicks != 0 OR registrations != 0 OR ftds != 0 OR deposits != 0 OR deposit_sum != 0
    OR ftd_sum != 0 OR declined_deposits != 0 OR withdrawals != 0 OR withdrawal_sum != 0
    OR chargebacks != 0 OR chargeback_sum != 0 OR stakes != 0 OR wins != 0
    OR bonus_stakes != 0 OR bonus_cost != 0;

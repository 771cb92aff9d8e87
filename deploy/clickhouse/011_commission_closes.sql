-- clickpath ClickHouse schema, version 11: closing periods and paying them
-- (docs/commissions.md#close-and-pay; clickpath/infra/closes.py).
--
-- The view gains `written_at`, when the entry's earliest copy still stored reached the table
-- (the ClickHouse clock; for analysts). A period's close does not compare times: it keeps the
-- ids of the entries it took in (`statement_close_entries`); an entry of a closed period that
-- no close took in is late and is paid in the next open period.
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
       first_written_at AS written_at,
       '' AS brand_id
FROM
(
    SELECT affiliate_id, period, entry_id,
           argMin(tuple(kind, component, amount, currency, original_amount, original_currency,
                        fx_rate, plan_id, plan_version, player_token, caused_by, reason,
                        occurred_at, registered_at, player_brand_id, player_campaign_id),
                  recorded_at) AS e,
           min(recorded_at) AS first_recorded_at,
           min(written_at) AS first_written_at
    FROM {db}.commission_ledger
    GROUP BY affiliate_id, period, entry_id
);

-- Every operator action on commissions, append-only: a close, an adjustment, a payment;
-- who (`actor`: the API key id, and the person the CLI names), what and when. The audit
-- trail of a later version chains these records.
CREATE TABLE IF NOT EXISTS {db}.commission_actions
(
    action_id     String,
    kind          LowCardinality(String),
    period        String,
    affiliate_id  String,
    currency      String,
    amount        Nullable(Decimal(38, 6)),
    reference     String,
    reason        String,
    actor         String,
    requested_by  String,
    at            DateTime64(3, 'UTC'),
    detail        String
)
ENGINE = MergeTree
ORDER BY (at, action_id);

-- The frozen statement rows of each close, with their status at the close (closed or
-- under_minimum) and invoice number. Only rows of a close named in `period_closes` count:
-- a close interrupted before its marker counts for nothing and is done again afresh.
CREATE TABLE IF NOT EXISTS {db}.statement_closes
(
    close_id             String,
    period               String,
    affiliate_id         String,
    currency             String,
    cpa_count            Int64,
    cpa_amount           Decimal(38, 6),
    revshare_amount      Decimal(38, 6),
    sub_affiliate_amount Decimal(38, 6),
    clawback_amount      Decimal(38, 6),
    carry_over           Decimal(38, 6),
    manual_amount        Decimal(38, 6),
    roll_over            Decimal(38, 6),
    total                Decimal(38, 6),
    entries              Int64,
    status               LowCardinality(String),
    invoice_seq          Nullable(UInt64),
    invoice_number       Nullable(String),
    rolled_over          Decimal(38, 6)
)
ENGINE = ReplacingMergeTree
ORDER BY (close_id, affiliate_id, currency);

-- The entries each close took in, by id (and the entry's own period): a closed period's
-- statement is these; an entry in no completed close's set is paid by the first open period.
CREATE TABLE IF NOT EXISTS {db}.statement_close_entries
(
    close_id     String,
    period       String,
    affiliate_id String,
    entry_id     String
)
ENGINE = ReplacingMergeTree
ORDER BY (close_id, period, affiliate_id, entry_id);

-- One row per closed period: written last, it is what makes a close count (of two at once,
-- the first by closed_at).
CREATE TABLE IF NOT EXISTS {db}.period_closes
(
    period     String,
    close_id   String,
    closed_at  DateTime64(3, 'UTC'),
    actor      String,
    requested_by String,
    rows       Int64
)
ENGINE = ReplacingMergeTree
ORDER BY period;

-- Payments of closed rows; the first payment of a row is the one that counts.
CREATE TABLE IF NOT EXISTS {db}.statement_payments
(
    period       String,
    affiliate_id String,
    currency     String,
    amount       Decimal(38, 6),
    reference    String,
    action_id    String,
    actor        String,
    requested_by String,
    paid_at      DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (period, affiliate_id, currency, paid_at);

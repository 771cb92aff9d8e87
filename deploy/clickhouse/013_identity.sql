-- clickpath ClickHouse schema, version 13: the identity graph (docs/identity.md, DESIGN.md §4):
-- the scored links between brand accounts (IdentityLink on identity.links), the merge log
-- (PersonChange on identity.persons), multi-account signals (MultiAccountSignal on
-- identity.signals) and the clicks the graph puts on each account's path (TouchpointLink on
-- identity.touchpoints).
--
-- The identity stage sends a link, a person and a signal whenever it changes, with a version
-- that increases per key; a replay may send a version again, or an older one after a newer
-- one. Each table keeps the highest version per key on merge, and every view groups by the key
-- and takes the highest version's values, so reads are exact before any merge, without FINAL
-- (DESIGN.md §9). `brand_id`/`player_id` (and `other_brand_id`/`other_player_id`) are the
-- account's `brand_id:player_id` split by the sink, so that a brand-scoped analyst key reads its
-- brand's rows (analytics.md). Nothing here is personal data: accounts, ids and scores only.

-- Scored pairs as `account` sees them: merged (one person), possible (evidence, never a merge),
-- removed. The stage sends the pair from each side, so a pair has a row per account.
CREATE TABLE IF NOT EXISTS {db}.identity_links
(
    brand_id        LowCardinality(String),
    player_id       String,
    account         String,
    other_brand_id  LowCardinality(String),
    other_player_id String,
    other           String,
    operator_id     LowCardinality(String),
    status          LowCardinality(String),
    score           Float64,
    reasons         Map(LowCardinality(String), Float64),
    version         UInt64,
    decided_at      DateTime64(3, 'UTC'),
    written_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (brand_id, account, other);

-- The merge log, append-only: an account's first person (new), then each merge or unmerge.
-- A change sent again is the same change_id, kept once on merge; the views group by it.
CREATE TABLE IF NOT EXISTS {db}.identity_person_changes
(
    brand_id           LowCardinality(String),
    player_id          String,
    account            String,
    change_id          String,
    operator_id        LowCardinality(String),
    kind               LowCardinality(String),
    person_id          String,
    previous_person_id String,
    reason             String,
    version            UInt64,
    changed_at         DateTime64(3, 'UTC'),
    written_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(changed_at)
ORDER BY (brand_id, account, version, change_id);

-- Accounts of one brand that look like one person: never merged, flagged. `accounts` are
-- `brand_id:player_id` (one brand's), `player_ids` the same accounts' player ids.
CREATE TABLE IF NOT EXISTS {db}.identity_signals
(
    brand_id   LowCardinality(String),
    signal_id  String,
    kind       LowCardinality(String),
    accounts   Array(String),
    player_ids Array(String),
    score      Float64,
    reasons    Map(LowCardinality(String), Float64),
    status     LowCardinality(String),
    version    UInt64,
    raised_at  DateTime64(3, 'UTC'),
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (brand_id, signal_id);

-- The clicks on each account's path from the graph: the click its registration named, or one of
-- the same brand on a device the account used, within the lookback. A link only grows; the
-- same click reached both ways keeps the named click's row (`link_rank`), and the view groups.
CREATE TABLE IF NOT EXISTS {db}.identity_touchpoints
(
    brand_id     LowCardinality(String),
    player_id    String,
    account      String,
    click_id     String,
    affiliate_id LowCardinality(String),
    campaign_id  LowCardinality(String),
    clicked_at   DateTime64(3, 'UTC'),
    link         LowCardinality(String),
    link_rank    UInt8 MATERIALIZED if(link = 'named_click', 2, 1),
    written_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(link_rank)
ORDER BY (brand_id, account, click_id);

-- The documented view: one row per account, its person now (the highest version of its
-- changes; an account never merged has its `new` change, version 0).
CREATE VIEW IF NOT EXISTS {db}.persons AS
SELECT brand_id,
       player_id,
       account,
       c.1 AS person_id,
       c.2 AS operator_id,
       c.3 AS kind,
       c.4 AS previous_person_id,
       c.5 AS reason,
       c.6 AS changed_at,
       newest AS version
FROM
(
    SELECT brand_id, player_id, account,
           argMax(tuple(person_id, operator_id, kind, previous_person_id, reason, changed_at),
                  version) AS c,
           max(version) AS newest
    FROM {db}.identity_person_changes
    GROUP BY brand_id, player_id, account
);

-- The documented view: the merge log, one row per change (a change sent again counts once).
CREATE VIEW IF NOT EXISTS {db}.person_changes AS
SELECT brand_id, player_id, account, change_id,
       any(operator_id) AS operator_id,
       any(kind) AS kind,
       any(person_id) AS person_id,
       any(previous_person_id) AS previous_person_id,
       any(reason) AS reason,
       any(version) AS version,
       any(changed_at) AS changed_at
FROM {db}.identity_person_changes
GROUP BY brand_id, player_id, account, change_id;

-- The documented view: one row per account and other account it is linked to now (merged or
-- possible; a removed link is left out), the newest version's score and reasons. The other
-- account of another brand is named by its brand only (other_player_id empty), as the journey
-- shows it to an operator key: who it is at the other brand is that brand's.
CREATE VIEW IF NOT EXISTS {db}.identity_links_now AS
SELECT brand_id,
       player_id,
       account,
       other_brand_id,
       if(other_brand_id = brand_id, other_player_id, '') AS other_player_id,
       l.1 AS operator_id,
       l.2 AS status,
       l.3 AS score,
       l.4 AS reasons,
       l.5 AS decided_at,
       newest AS version
FROM
(
    SELECT brand_id, player_id, account, other_brand_id, other_player_id,
           argMax(tuple(operator_id, status, score, reasons, decided_at), version) AS l,
           max(version) AS newest
    FROM {db}.identity_links
    GROUP BY brand_id, player_id, account, other, other_brand_id, other_player_id
)
WHERE l.2 != 'removed';

-- The documented view: one row per open multi-account signal, the newest version (a signal
-- withdrawn since, because the evidence it rested on stopped linking, is left out).
CREATE VIEW IF NOT EXISTS {db}.identity_signals_now AS
SELECT brand_id,
       signal_id,
       s.1 AS kind,
       s.2 AS accounts,
       s.3 AS player_ids,
       s.4 AS score,
       s.5 AS reasons,
       s.6 AS status,
       s.7 AS raised_at,
       newest AS version
FROM
(
    SELECT brand_id, signal_id,
           argMax(tuple(kind, accounts, player_ids, score, reasons, status, raised_at), version) AS s,
           max(version) AS newest
    FROM {db}.identity_signals
    GROUP BY brand_id, signal_id
)
WHERE s.6 = 'open';

-- The documented view: one row per account and click on its path from the graph; `link` is
-- 'named_click' when the registration named the click, else 'device'.
CREATE VIEW IF NOT EXISTS {db}.identity_touchpoints_now AS
SELECT brand_id, player_id, account, click_id,
       any(affiliate_id) AS affiliate_id,
       any(campaign_id) AS campaign_id,
       min(clicked_at) AS clicked_at,
       -- 'named_click' > 'device': the stronger link wins
       max(link) AS link
FROM {db}.identity_touchpoints
GROUP BY brand_id, player_id, account, click_id;
